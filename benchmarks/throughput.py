"""Benchmark 2: images per second of one training run, cnnsweep vs the lesson's model.fit.

    python -m benchmarks.throughput EPOCHS [TRAIN_LIMIT]

Same model (the lesson's seed CNN), same data (real Fashion-MNIST when installed,
else digits), same batch size; the two sides alternate for three rounds and the
medians are compared (a shared 2-core machine varies by +-15% run to run).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    epochs = int(sys.argv[1])
    limit = int(sys.argv[2]) if len(sys.argv) > 2 and int(sys.argv[2]) > 0 else None
    from cnnsweep.backend import import_keras
    from cnnsweep.config import compose
    from cnnsweep.data.loader import load_dataset
    from cnnsweep.train import train

    dataset = "fashion_mnist" if Path("/usr/share/datasets/fashion-mnist").is_dir() else "digits"
    keras = import_keras()
    data = load_dataset(dataset, train_limit=limit)
    y = keras.utils.to_categorical(data.y_train, 10)
    batch = 64
    cfg = compose(f"dataset={dataset}", "model=seed", f"trainer.epochs={epochs}",
                         f"trainer.batch_size={batch}", "trainer.quiet=true",
                         "trainer.early_stopping.patience=100")
    if limit:
        cfg["dataset"]["train_limit"] = limit
    n_fit = int(round(len(data.x_train) * 0.8))

    def plain() -> float:
        keras.backend.clear_session()
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input(data.spec.input_shape),
                                  keras.layers.Conv2D(128, (2, 2), padding="valid", activation="relu"),
                                  keras.layers.MaxPooling2D(2), keras.layers.Flatten(),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["acc"])
        started = time.perf_counter()
        model.fit(data.x_train, y, validation_split=0.2, epochs=epochs, batch_size=batch, verbose=0)
        return n_fit * epochs / (time.perf_counter() - started)

    def ours() -> float:
        with tempfile.TemporaryDirectory() as tmp:
            result = train(cfg, Path(tmp))
        return result.metrics["images_per_second"]

    plain_runs, our_runs = [], []
    for _ in range(3):
        plain_runs.append(plain())
        our_runs.append(ours())
    plain_median, our_median = statistics.median(plain_runs), statistics.median(our_runs)
    print(json.dumps({"dataset": dataset, "epochs": epochs, "batch_size": batch, "train_images": n_fit,
                      "plain_images_per_s": round(plain_median),
                      "cnnsweep_images_per_s": round(our_median),
                      "plain_runs": [round(r) for r in plain_runs],
                      "cnnsweep_runs": [round(r) for r in our_runs],
                      "ratio": round(our_median / plain_median, 3)}))


if __name__ == "__main__":
    main()
