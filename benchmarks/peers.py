"""What benchmark 4's peers share: deep_cnn's space and baseline, and the two recipes.

A peer is a search a user would write without cnnsweep, on the same split, space and
time box. It trains with one of two recipes:

* ``cnnsweep``: the recipe cnnsweep's default trainer uses, written in plain Keras:
  AdamW (weight decay 1e-4) on a cosine schedule with a one-epoch linear warm-up over the
  run's 15 epochs, label smoothing 0.1, random horizontal flips in a ``tf.data``
  pipeline, BatchNormalization momentum 0.9, early stopping with patience 5, the
  baseline (cnnsweep's default model) tried first, and each test image scored with its
  mirror (``trainer.flip_test``). A lead over such a peer is the search's.
* ``plain``: what a user first writes: Adam at the sampled rate, plain cross-entropy, no
  augmentation, Keras's BatchNormalization, early stopping with patience 3; the baseline is
  still tried first, as on every side.

The space is ``sweeps/deep_cnn.yaml``'s; :data:`SPACE` names it once for both peers.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RECIPES = ("cnnsweep", "plain")
MAX_EPOCHS = 15
VALIDATION_SPLIT = 0.2
SCORING_RESERVE_S = 15.0  # the best model's scoring on the test split and the process's exit

# deep_cnn's search space: name -> ("choice", values) or ("float", low, high, log)
SPACE: dict[str, tuple] = {
    "conv_blocks": ("choice", [2, 3]),
    "convs_per_block": ("choice", [1, 2]),
    "filters": ("choice", [16, 32, 48]),
    "batch_norm": ("choice", [True, False]),
    "dense_units": ("choice", [64, 128, 256]),
    "dropout": ("float", 0.1, 0.5, False),
    "learning_rate": ("float", 5e-4, 5e-3, True),
    "batch_size": ("choice", [64, 128, 256]),
}
# deep_cnn's baseline: cnnsweep's default model and trainer.
BASELINE = {
    "conv_blocks": 2,
    "convs_per_block": 1,
    "filters": 32,
    "batch_norm": True,
    "dense_units": 128,
    "dropout": 0.25,
    "learning_rate": 0.002,
    "batch_size": 128,
}


def arguments(prog: str, argv: list[str] | None = None) -> Any:
    """A peer's command line: DATASET MINUTES RECIPE [--workdir DIR] [--train-limit N] [--test-limit N]."""
    import argparse

    parser = argparse.ArgumentParser(prog=f"python -m {prog}")
    parser.add_argument("dataset")
    parser.add_argument("minutes", type=float, help="the time box, from the start of the process")
    parser.add_argument("recipe", choices=RECIPES)
    parser.add_argument("--workdir", default="peer-search", help="where the peer keeps its files")
    parser.add_argument("--train-limit", type=int, default=None, help="only the first N training images")
    parser.add_argument("--test-limit", type=int, default=None, help="only the first N test images")
    return parser.parse_args(argv)


def build_model(keras: Any, params: dict, input_shape: tuple, classes: int, recipe: str) -> Any:
    """deep_cnn's model family: blocks of [Conv2D (-> BN -> ReLU)] x convs, MaxPooling2D;
    Flatten, Dense, Dropout, softmax."""
    bn = {"momentum": 0.9} if recipe == "cnnsweep" else {}
    layers: list[Any] = [keras.Input(shape=input_shape)]
    for block in range(params["conv_blocks"]):
        for _ in range(params["convs_per_block"]):
            layers.append(
                keras.layers.Conv2D(
                    params["filters"] * 2**block,
                    3,
                    padding="same",
                    activation=None if params["batch_norm"] else "relu",
                )
            )
            if params["batch_norm"]:
                layers += [keras.layers.BatchNormalization(**bn), keras.layers.Activation("relu")]
        layers.append(keras.layers.MaxPooling2D(2))
    layers += [
        keras.layers.Flatten(),
        keras.layers.Dense(params["dense_units"], activation="relu"),
        keras.layers.Dropout(params["dropout"]),
        keras.layers.Dense(classes, activation="softmax"),
    ]
    return keras.Sequential(layers)


def compile_model(keras: Any, model: Any, params: dict, train_images: int, recipe: str) -> None:
    rate = params["learning_rate"]
    if recipe == "plain":
        model.compile(optimizer=keras.optimizers.Adam(rate), loss="categorical_crossentropy", metrics=["acc"])
        return
    steps = math.ceil(train_images / params["batch_size"])
    total = steps * MAX_EPOCHS
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, total - steps, warmup_target=rate, warmup_steps=steps
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=1e-4),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1),
        metrics=["acc"],
    )


def sized_cosine(keras: Any, rate: float, steps_per_epoch: int, epochs: int) -> Any:
    """cnnsweep's schedule (a one-epoch linear warm-up to ``rate``, then a cosine decay to 0)
    whose length can change while it runs: ``schedule.total_steps`` is a variable the fit
    reads every step, so a run can size its epochs after measuring the first ones."""
    ops = keras.ops

    class SizedCosine(keras.optimizers.schedules.LearningRateSchedule):
        def __init__(self) -> None:
            self.total_steps = keras.Variable(
                float(steps_per_epoch * epochs), dtype="float32", trainable=False, name="total_steps"
            )

        def __call__(self, step: Any) -> Any:
            step = ops.cast(step, "float32")
            warm = float(steps_per_epoch)
            decay = ops.maximum(self.total_steps - warm, 1.0)
            progress = ops.clip((step - warm) / decay, 0.0, 1.0)
            return ops.where(
                step < warm, rate * step / warm, 0.5 * rate * (1.0 + ops.cos(math.pi * progress))
            )

        def get_config(self) -> dict:
            return {"rate": rate, "steps_per_epoch": steps_per_epoch}

    return SizedCosine()


def training_data(x: Any, y: Any, batch_size: int, recipe: str, mirrors: bool, seed: int) -> Any:
    """The training images as fit takes them: shuffled batches, flipped at random per image
    (cnnsweep's recipe, where the classes survive a mirror)."""
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed).batch(batch_size)
    if recipe == "cnnsweep" and mirrors:
        data = data.map(
            lambda images, labels: (tf.image.random_flip_left_right(images, seed=seed), labels),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return data.prefetch(tf.data.AUTOTUNE)


def patience(recipe: str) -> int:
    return 5 if recipe == "cnnsweep" else 3


def process_started() -> float:
    """When this process started, on ``time.perf_counter``'s clock: a time box "from the start
    of the process" counts Python's and TensorFlow's start-up, as the benchmark's timing of the
    whole command does. Where ``/proc`` cannot tell, now."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        age = uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime, in ticks
    except (OSError, ValueError, IndexError):
        age = 0.0
    return time.perf_counter() - max(0.0, age)


class TimeBox:
    """A peer's time box, as cnnsweep keeps its own: it starts with the process
    (:func:`process_started`), and training ends early enough for the best model's scoring
    and the process's exit (:data:`SCORING_RESERVE_S`) to end within it.

    * :meth:`callback` ends a fit after an epoch when the next one, budgeted at the fit's
      longest so far, would end past training's end (cnnsweep's ``StopAtDeadline``): the
      trial keeps its best epoch. An epoch still running when training's end comes (the
      first epoch of a trial larger than those before, which nothing measured could
      predict) ends at the batch after which the next, with the validation pass Keras runs
      after every epoch, cut or whole, would end past training's end. The cut epoch is
      validated as it is and counts as its fit's last. A validation pass is budgeted at the
      longest measured in the box, as the fit's own validation is only measured after its
      first epoch.
    * :meth:`room_for_a_trial` says whether a new trial's first epoch (compilation
      included; the median of the first epochs so far) still fits (as cnnsweep's loop asks
      before it starts a trial).
    """

    def __init__(
        self, minutes: float, started: float | None = None, clock: Callable[[], float] = time.perf_counter
    ):
        self.clock = clock
        self.started = process_started() if started is None else started
        self.ends = self.started + 60 * minutes
        self.training_ends = self.ends - SCORING_RESERVE_S
        self.first_epochs: list[float] = []
        self.longest_validation = 0.0

    def room_for_a_trial(self) -> bool:
        first = statistics.median(self.first_epochs) if self.first_epochs else 0.0
        return self.clock() + first <= self.training_ends

    def callback(self, keras: Any) -> Any:
        box = self

        class StopBeforeTheTimeBoxEnds(keras.callbacks.Callback):
            # The box is the enclosing function's, not an attribute: a tuner that deep-copies
            # its callbacks for every trial still adds each trial's first epoch to it.
            def on_train_begin(self, logs: dict | None = None) -> None:
                self.longest = None

            def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
                self.began, self.cut = box.clock(), False
                self.batch_ended, self.longest_batch = self.began, 0.0

            def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
                now = box.clock()
                self.longest_batch = max(self.longest_batch, now - self.batch_ended)
                self.batch_ended = now
                if now + self.longest_batch + box.longest_validation > box.training_ends:
                    self.cut = self.model.stop_training = True

            def on_test_begin(self, logs: dict | None = None) -> None:
                self.validating = box.clock()

            def on_test_end(self, logs: dict | None = None) -> None:
                box.longest_validation = max(box.longest_validation, box.clock() - self.validating)

            def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
                now = box.clock()
                if self.longest is None and not self.cut:  # the fit's first epoch, whole
                    box.first_epochs.append(now - self.began)  # (a resumed fit's starts past 0)
                self.longest = max(self.longest or 0.0, now - self.began)
                if now + self.longest > box.training_ends:
                    self.model.stop_training = True

        return StopBeforeTheTimeBoxEnds()


def test_accuracy(model: Any, x_test: Any, y_test: Any, recipe: str, mirrors: bool) -> float:
    """The best model's test accuracy as its recipe scores it: with cnnsweep's recipe (on a
    dataset that mirrors) each image's probabilities averaged with its mirror's."""
    import numpy as np

    probabilities = np.asarray(model.predict(x_test, batch_size=512, verbose=0))
    if recipe == "cnnsweep" and mirrors:
        probabilities = (
            probabilities + np.asarray(model.predict(x_test[:, :, ::-1], batch_size=512, verbose=0))
        ) / 2
    return float((probabilities.argmax(axis=1) == np.asarray(y_test).argmax(axis=1)).mean())


def load_split(args: Any) -> tuple[Any, tuple, tuple, tuple]:
    """The dataset and cnnsweep's split of its training images (the last 20% validate),
    labels one-hot."""
    import keras

    from cnnsweep.data.loader import load_dataset
    from cnnsweep.training import split_validation

    data = load_dataset(args.dataset, train_limit=args.train_limit, test_limit=args.test_limit)
    classes = data.spec.num_classes
    (x_fit, y_fit), (x_val, y_val) = split_validation(data.x_train, data.y_train, VALIDATION_SPLIT)
    one_hot = keras.utils.to_categorical
    return (
        data,
        (x_fit, one_hot(y_fit, classes)),
        (x_val, one_hot(y_val, classes)),
        (data.x_test, one_hot(data.y_test, classes)),
    )
