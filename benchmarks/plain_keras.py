"""What users would otherwise write: the lesson's Keras loop, one config after another.

    python -m benchmarks.plain_keras CONFIGS.json DATASET EPOCHS

Prints one JSON line: wall seconds of the training phase and per-config results.
It builds, compiles, fits (validation_split, EarlyStopping) and evaluates exactly
as the lesson does, with no files written.
"""

from __future__ import annotations

import json
import sys
import time


def run(configs: list[dict], dataset: str, epochs: int, train_limit: int | None = None) -> dict:
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np

    from cnnsweep.data.loader import load_dataset

    data = load_dataset(dataset, train_limit=train_limit)
    y_train = keras.utils.to_categorical(data.y_train, data.spec.num_classes)
    y_test = keras.utils.to_categorical(data.y_test, data.spec.num_classes)
    results = []
    started = time.perf_counter()
    for i, cfg in enumerate(configs):
        keras.utils.set_random_seed(i)
        model = keras.Sequential(
            [
                keras.Input(shape=data.spec.input_shape),
                keras.layers.Conv2D(
                    cfg["model.filters"],
                    (cfg["model.kernel_size"],) * 2,
                    strides=cfg["model.strides"],
                    padding=cfg["model.padding"],
                    activation="relu",
                ),
                keras.layers.MaxPooling2D(2),
                keras.layers.Flatten(),
                keras.layers.Dense(data.spec.num_classes, activation="softmax"),
            ]
        )
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["acc"])
        stop = keras.callbacks.EarlyStopping(monitor="val_acc", patience=3, restore_best_weights=True)
        fit_started = time.perf_counter()
        history = model.fit(
            data.x_train,
            y_train,
            validation_split=0.2,
            epochs=epochs,
            batch_size=cfg["trainer.batch_size"],
            callbacks=[stop],
            verbose=0,
        )
        fit_seconds = time.perf_counter() - fit_started
        _, test_acc = model.evaluate(data.x_test, y_test, verbose=0)
        results.append(
            {
                "val_acc": float(np.max(history.history["val_acc"])),
                "test_acc": float(test_acc),
                "fit_seconds": fit_seconds,
                "epochs": len(history.history["loss"]),
            }
        )
    return {"wall_seconds": time.perf_counter() - started, "trials": results}


if __name__ == "__main__":
    configs = json.loads(open(sys.argv[1]).read())
    limit = int(sys.argv[4]) if len(sys.argv) > 4 else None
    print(json.dumps(run(configs, sys.argv[2], int(sys.argv[3]), limit)))
