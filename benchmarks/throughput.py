"""Benchmark 2: images per second of one training run, cnnsweep against plain Keras ``fit``
given the same model, recipe and augmentation.

    python -m benchmarks.throughput EPOCHS [TRAIN_LIMIT [ROUNDS]]

cnnsweep's side is its default run (``model=cnn``, ``trainer=default``: AdamW on a cosine
schedule with a one-epoch warm-up, label smoothing 0.1, horizontal flips). The plain side
is what a user would write for the same thing: the same layers in a Sequential model, the
same optimizer, schedule and loss, and the flips as a ``tf.data`` map. Same data (real
Fashion-MNIST when installed, else digits without flips), same batch size and validation
split; the two sides alternate for ROUNDS rounds (3 unless given), and the median of the
rounds' ratios is the figure.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import tempfile
from pathlib import Path


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    epochs = int(sys.argv[1])
    limit = int(sys.argv[2]) if len(sys.argv) > 2 and int(sys.argv[2]) > 0 else None
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    import time

    import tensorflow as tf

    from cnnsweep.backend import import_keras
    from cnnsweep.config import compose
    from cnnsweep.data.loader import load_dataset
    from cnnsweep.training import split_validation, train

    dataset = "fashion_mnist" if Path("/usr/share/datasets/fashion-mnist").is_dir() else "digits"
    keras = import_keras()
    data = load_dataset(dataset, train_limit=limit)
    cfg = compose(
        f"dataset={dataset}",
        f"trainer.epochs={epochs}",
        "trainer.quiet=true",
        "trainer.save_model=false",
        "trainer.early_stopping.patience=100",
    )
    cfg["dataset"]["train_limit"] = limit
    trainer, model_cfg = cfg["trainer"], cfg["model"]
    batch = int(trainer["batch_size"])
    flips = bool(trainer["augment"]["flip"]) and data.spec.mirrors
    (x_fit, y_fit), (x_val, y_val) = split_validation(data.x_train, data.y_train, trainer["validation_split"])
    y_fit, y_val = keras.utils.to_categorical(y_fit, 10), keras.utils.to_categorical(y_val, 10)

    def plain() -> float:
        keras.backend.clear_session()
        keras.utils.set_random_seed(0)
        layers = [keras.Input(data.spec.input_shape)]
        filters = int(model_cfg["filters"])
        for _ in range(int(model_cfg["conv_blocks"])):
            layers += [
                keras.layers.Conv2D(filters, 3, padding="same"),
                keras.layers.BatchNormalization(momentum=0.9),
                keras.layers.Activation("relu"),
                keras.layers.MaxPooling2D(2),
            ]
            filters *= 2
        layers += [
            keras.layers.Flatten(),
            keras.layers.Dense(int(model_cfg["dense_units"]), activation="relu"),
            keras.layers.Dropout(float(model_cfg["dropout"])),
            keras.layers.Dense(10, activation="softmax"),
        ]
        model = keras.Sequential(layers)
        steps = math.ceil(len(x_fit) / batch) * epochs
        warmup = min(steps // 2, math.ceil(len(x_fit) / batch))  # one epoch, at most half the run
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, steps - warmup, warmup_target=trainer["learning_rate"], warmup_steps=warmup
        )
        model.compile(
            optimizer=keras.optimizers.AdamW(schedule, weight_decay=trainer["weight_decay"]),
            loss=keras.losses.CategoricalCrossentropy(label_smoothing=trainer["label_smoothing"]),
            metrics=["acc"],
        )
        train_data = tf.data.Dataset.from_tensor_slices((x_fit, y_fit))
        train_data = train_data.shuffle(len(x_fit), seed=0).batch(batch)
        if flips:
            train_data = train_data.map(lambda x, y: (tf.image.random_flip_left_right(x), y))
        train_data = train_data.prefetch(tf.data.AUTOTUNE)
        started = time.perf_counter()
        model.fit(train_data, validation_data=(x_val, y_val), epochs=epochs, verbose=0)
        return len(x_fit) * epochs / (time.perf_counter() - started)

    def ours() -> float:
        with tempfile.TemporaryDirectory() as tmp:
            result = train(cfg, Path(tmp))
        return result.metrics["images_per_second"]

    plain_runs, our_runs = [], []
    for _ in range(rounds):
        plain_runs.append(plain())
        our_runs.append(ours())
    plain_median, our_median = statistics.median(plain_runs), statistics.median(our_runs)
    # Each round's two runs ran back to back: their ratio is the comparison, the median of
    # those ratios the figure (a ratio of medians would pair runs of different rounds).
    ratios = [ours / plain for ours, plain in zip(our_runs, plain_runs, strict=True)]
    print(
        json.dumps(
            {
                "dataset": dataset,
                "epochs": epochs,
                "batch_size": batch,
                "train_images": len(x_fit),
                "recipe": "default model and trainer, flips" if flips else "default, no flips",
                "plain_images_per_s": round(plain_median),
                "cnnsweep_images_per_s": round(our_median),
                "plain_runs": [round(r) for r in plain_runs],
                "cnnsweep_runs": [round(r) for r in our_runs],
                "round_ratios": [round(r, 3) for r in ratios],
                "ratio": round(statistics.median(ratios), 3),
            }
        )
    )


if __name__ == "__main__":
    main()
