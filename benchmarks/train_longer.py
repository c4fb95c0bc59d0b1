"""Benchmark 4's simplest peer: no search, cnnsweep's default model and recipe trained once
for the whole time box.

    python -m benchmarks.train_longer DATASET MINUTES cnnsweep [--train-limit N] [--test-limit N]

The baseline (cnnsweep's default model) trains with cnnsweep's recipe (see
:mod:`benchmarks.peers`), its cosine schedule sized to the time box, which starts with the
process: after every epoch the run plans as many more epochs as the time left holds
(keeping back the test split's scoring) at the slower of its median epoch and its last
one, and the schedule spans them, growing or shrinking; it stops once no further epoch
fits. Early stopping never ends it sooner; the best epoch by validation accuracy is
restored and scored on the test split with each image's mirror, as every side is.
Prints one JSON line.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from typing import Any

from benchmarks import peers


def budget_sizer(keras: Any, schedule: Any, steps: int, box: peers.TimeBox) -> Any:
    """A callback that plans the epochs the time box holds (until its training ends) after
    every epoch, sets the schedule's length to them, and ends the fit at the last one that fits.

    An epoch's time is the slower of the median epoch after the first (which also compiles;
    the first alone before a second has run) and the last one: a run whose epochs slow down
    plans fewer at once, rather than ending past the deadline.
    """

    class SizeToTheBudget(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.planned, self.epoch_s, self.began = peers.MAX_EPOCHS, 0.0, 0.0
            self.epochs: list[float] = []

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.began = box.clock()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            now = box.clock()
            self.epochs.append(now - self.began)
            timed = self.epochs[1:] or self.epochs
            self.epoch_s = max(statistics.median(timed), self.epochs[-1])
            left = max(0, int((box.training_ends - now) / self.epoch_s))
            self.planned = epoch + 1 + left
            schedule.total_steps.assign(float(steps * self.planned))
            if left == 0:
                self.model.stop_training = True

    return SizeToTheBudget()


def run(args) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    box = peers.TimeBox(args.minutes)
    data, (x_fit, y_fit), validation, (x_test, y_test) = peers.load_split(args)
    params = dict(peers.BASELINE)
    keras.utils.set_random_seed(0)
    model = peers.build_model(keras, params, data.spec.input_shape, data.spec.num_classes, "cnnsweep")
    steps = math.ceil(len(x_fit) / params["batch_size"])
    schedule = peers.sized_cosine(keras, params["learning_rate"], steps, peers.MAX_EPOCHS)
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=1e-4),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1),
        metrics=["acc"],
    )

    sizer = budget_sizer(keras, schedule, steps, box)
    train = peers.training_data(x_fit, y_fit, params["batch_size"], "cnnsweep", data.spec.mirrors, seed=0)
    history = model.fit(
        train,
        epochs=10_000,  # the sizer ends the fit
        validation_data=validation,
        callbacks=[
            sizer,
            keras.callbacks.EarlyStopping(monitor="val_acc", patience=10_000, restore_best_weights=True),
        ],
        verbose=0,
    )
    train_s = time.perf_counter() - box.started
    val_acc = history.history["val_acc"]
    test_acc = peers.test_accuracy(model, x_test, y_test, "cnnsweep", data.spec.mirrors)
    return {
        "recipe": "cnnsweep",
        "wall_s": round(time.perf_counter() - box.started, 1),
        "search_s": round(train_s, 1),
        "trials": 1,
        "epochs_planned": sizer.planned,
        "epochs_trained": len(val_acc),
        "measured_epoch_s": round(sizer.epoch_s, 1),
        "best_epoch": int(max(range(len(val_acc)), key=val_acc.__getitem__)) + 1,
        "best_val_acc": round(float(max(val_acc)), 4),
        "best_test_acc": round(float(test_acc), 4),
        "best_params": params,
    }


if __name__ == "__main__":
    print(json.dumps(run(peers.arguments("benchmarks.train_longer"))))
