"""Keras callbacks cnnsweep adds to every fit. Imports Keras: import it late."""

from __future__ import annotations

import collections
import logging
import math
import numbers
import statistics
import threading
import time
import weakref
from typing import Any

from cnnsweep.backend import import_keras
from cnnsweep.hooks import TrialHooks
from cnnsweep.timing import format_seconds

keras: Any = import_keras()  # a module; typed Any so classes may extend its callbacks


class EpochProgress(keras.callbacks.Callback):
    """One log line per epoch: metrics, epoch time and an ETA to the epoch budget.

    The ETA assumes every remaining epoch runs; early stopping can only make the
    real end sooner.
    """

    def __init__(self, epochs: int, logger: logging.Logger, level: int = logging.INFO, prefix: str = ""):
        super().__init__()
        self.epochs = epochs
        self.logger = logger
        self.level = level
        self.prefix = prefix
        self.epoch_seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        elapsed = time.perf_counter() - self._started
        self.epoch_seconds.append(elapsed)
        remaining = self.epochs - (epoch + 1)
        eta = remaining * sum(self.epoch_seconds) / len(self.epoch_seconds)
        metrics = "  ".join(f"{key} {value:.4f}" for key, value in sorted((logs or {}).items()))
        self.logger.log(
            self.level,
            "%sepoch %d/%d  %s  (%s, ETA %s)",
            self.prefix,
            epoch + 1,
            self.epochs,
            metrics,
            format_seconds(elapsed),
            format_seconds(eta),
        )


class LogLearningRate(keras.callbacks.Callback):
    """Adds the learning rate the epoch ended at to its logs, so ``history.csv`` shows the schedule."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))


class StopOnNonFinite(keras.callbacks.Callback):
    """Stop as soon as the loss is NaN or infinite, remembering the epoch."""

    def __init__(self):
        super().__init__()
        self.bad_epoch: int | None = None

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self.bad_epoch = epoch + 1
            self.model.stop_training = True


class AverageWeights(keras.callbacks.Callback):
    """Keeps the weights after each of the run's last ``epochs`` epochs (``trainer.average_epochs``);
    :meth:`average` is their mean, weight by weight. Batch normalization's moving statistics
    are averaged with the rest: an approximation that holds while the epochs averaged lie close
    together, as the last epochs of a decaying schedule do."""

    def __init__(self, epochs: int):
        super().__init__()
        self.snapshots: collections.deque[list[Any]] = collections.deque(maxlen=epochs)
        self.last_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        self.snapshots.append(self.model.get_weights())
        self.last_epoch = epoch + 1

    def window(self) -> tuple[int, int] | None:
        """The first and last epoch averaged (counting from 1); None before an epoch ended."""
        return (self.last_epoch - len(self.snapshots) + 1, self.last_epoch) if self.snapshots else None

    def average(self) -> list[Any]:
        """The mean of the kept weights; a weight that is no float (a counter) is the last one's."""
        import numpy as np

        return [
            np.mean(values, axis=0).astype(values[-1].dtype)
            if np.issubdtype(values[-1].dtype, np.floating)
            else values[-1]
            for values in zip(*self.snapshots, strict=True)
        ]


class EpochReporter(keras.callbacks.Callback):
    """Hands each epoch's monitored value to the run's hooks; stops the fit when they say so.

    A sweep's pruner decides through :meth:`TrialHooks.report_epoch` (epoch is 1-based).
    ``epoch_shares`` is each epoch's share of the training images (1.0 for a full epoch).
    """

    def __init__(self, monitor: str, hooks: TrialHooks, epoch_shares: list[float] | None = None):
        super().__init__()
        self.monitor = monitor
        self.hooks = hooks
        self.epoch_shares = epoch_shares
        self.stopped_epoch: int | None = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not math.isfinite(value):
            return
        seen = sum(self.epoch_shares[: epoch + 1]) if self.epoch_shares else float(epoch + 1)
        if self.hooks.report_epoch(epoch + 1, float(value), seen):
            self.stopped_epoch = epoch + 1
            self.model.stop_training = True


class EpochLogs(keras.callbacks.Callback):
    """Hands every epoch's logs (loss, acc, val_loss, val_acc, learning_rate, ...) to the
    run's hooks: an experiment tracker's metric history."""

    def __init__(self, hooks: TrialHooks):
        super().__init__()
        self.hooks = hooks

    def on_epoch_end(self, epoch, logs=None):
        self.hooks.epoch_logged(
            epoch + 1, {k: float(v) for k, v in (logs or {}).items() if isinstance(v, numbers.Real)}
        )


class StopAtDeadline(keras.callbacks.Callback):
    """Ends the fit after an epoch when the next one would end past the hooks' deadline.

    The next epoch is estimated from the longest so far, scaled to its share of the training
    images (``epoch_shares``: a fidelity's first epochs train on a tenth, a third, ...): after a
    10% epoch, a full one is budgeted at ten times its time, not at the 10% epoch's. The run is
    then complete with its best epoch so far (early stopping restores it).
    """

    def __init__(self, hooks: TrialHooks, epoch_shares: list[float] | None = None):
        super().__init__()
        self.hooks = hooks
        self.shares = list(epoch_shares or [])
        self.stopped_epoch: int | None = None
        self._per_whole_epoch = 0.0  # the longest epoch so far, scaled to every training image

    def _share(self, epoch: int) -> float:
        return self.shares[epoch] if 0 <= epoch < len(self.shares) and self.shares[epoch] > 0 else 1.0

    def next_epoch_seconds(self, epoch: int, seconds: float) -> float:
        """After ``epoch`` (0-based) took ``seconds``: how long the next one will take."""
        self._per_whole_epoch = max(self._per_whole_epoch, seconds / self._share(epoch))
        return self._per_whole_epoch * self._share(epoch + 1)

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if self.hooks.out_of_time(self.next_epoch_seconds(epoch, time.perf_counter() - self._started)):
            self.stopped_epoch = epoch + 1
            self.model.stop_training = True


class SizeToTime(keras.callbacks.Callback):
    """Plans a run's epochs to fill ``seconds`` of training (``trainer.refit_seconds``) and ends
    the fit at the last one.

    After every epoch it plans as many more epochs as the time left holds, and where the
    count changes moves the end of the learning-rate schedule
    (:class:`cnnsweep.recipe.SizedCosine`) to the last planned step, tracing the training
    step again so it reads the new end. The plan follows the machine both ways: it grows
    back after one slow epoch and shrinks when the epochs run slower for good, so the run
    ends within its seconds without leaving them unused. ``progress`` shows the planned count.
    """

    MARGIN = 1.05  # an epoch is planned at its typical time and this much more
    RECENT = 3  # the epochs whose median says whether the machine has slowed down
    clock = staticmethod(time.perf_counter)  # a test may swap in a clock of its own

    def __init__(self, seconds: float, steps_per_epoch: int, progress: Any = None):
        super().__init__()
        self.seconds = float(seconds)
        self.steps_per_epoch = int(steps_per_epoch)
        self.progress = progress
        self.planned: int | None = None
        self.epoch_seconds: list[float] = []

    def on_train_begin(self, logs=None):
        self._train_started = self.clock()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_started = self.clock()

    def plan(self, epoch: int, epoch_seconds: float, elapsed: float) -> int:
        """The epochs to train, after ``epoch`` (0-based), when an epoch takes ``epoch_seconds``
        and the fit has run ``elapsed`` seconds: those done and as many more as the time left holds."""
        left = max(0.0, self.seconds - elapsed)
        return epoch + 1 + int(left / max(epoch_seconds, 1e-6))

    def typical_epoch(self) -> float:
        """The seconds planned for each epoch to come: the median of the epochs after the first
        (which also compiles), or of the last :data:`RECENT` of them where those run slower.
        A median, so one slow epoch moves neither; the recent one, so a lasting slowdown does."""
        measured = self.epoch_seconds[1:] or self.epoch_seconds
        return self.MARGIN * max(statistics.median(measured), statistics.median(measured[-self.RECENT :]))

    def on_epoch_end(self, epoch, logs=None):
        now = self.clock()
        self.epoch_seconds.append(now - self._epoch_started)
        planned = self.plan(epoch, self.typical_epoch(), now - self._train_started)
        self._replan(planned)
        if epoch + 1 >= planned:
            self.model.stop_training = True

    def _replan(self, planned: int) -> None:
        if planned == self.planned:
            return
        self.planned = planned
        resize = getattr(getattr(self.model.optimizer, "_learning_rate", None), "resize", None)
        if callable(resize):  # a schedule sized to the run (SizedCosine), not a constant rate
            resize(planned * self.steps_per_epoch)
            self.model.make_train_function(force=True)
        if self.progress is not None:
            self.progress.epochs = planned


class StopWhenAsked(keras.callbacks.Callback):
    """Stops the fit within a tenth of a second of the run's hooks asking (a sweep's Ctrl-C),
    mid-epoch or mid-validation, and raises KeyboardInterrupt when it has stopped, so the
    run ends as an interrupted one, not as a result.

    One watcher thread asks the hooks of every running fit ten times a second and sets
    the model's ``stop_training`` / ``stop_evaluating``, which Keras reads after each
    batch. A callback with batch hooks would cost every batch a round through all the
    callbacks (about 30 ms per 2-epoch digits trial).
    """

    POLL_S = 0.1
    _running: weakref.WeakSet[StopWhenAsked] = weakref.WeakSet()
    _watcher: threading.Thread | None = None
    _lock = threading.Lock()

    def __init__(self, hooks: TrialHooks):
        super().__init__()
        self.hooks = hooks
        self.asked = False

    def on_train_begin(self, logs=None):
        with StopWhenAsked._lock:
            StopWhenAsked._running.add(self)
            if StopWhenAsked._watcher is None:
                StopWhenAsked._watcher = threading.Thread(
                    target=StopWhenAsked._watch, daemon=True, name="cnnsweep-stop-when-asked"
                )
                StopWhenAsked._watcher.start()

    def on_epoch_end(self, epoch, logs=None):
        self._raise_if_asked()

    def on_train_end(self, logs=None):
        StopWhenAsked._running.discard(self)
        self._raise_if_asked()

    def _raise_if_asked(self) -> None:
        if self.asked or self.hooks.should_stop():
            StopWhenAsked._running.discard(self)
            raise KeyboardInterrupt

    @staticmethod
    def _watch() -> None:
        while True:
            time.sleep(StopWhenAsked.POLL_S)
            for callback in list(StopWhenAsked._running):
                if not callback.asked and callback.hooks.should_stop():
                    callback.asked = True
                    callback.model.stop_training = True
                    callback.model.stop_evaluating = True


def tensorboard_callbacks(
    log_dir: str, searched: dict[str, object], monitor: str, direction: str
) -> list[Any]:
    """Keras's TensorBoard callback (per-epoch scalars, learning rate included) and, in a
    sweep, the trial's HParams: ``tensorboard --logdir SWEEP_DIR`` compares every trial."""
    board = keras.callbacks.TensorBoard(log_dir=log_dir, write_graph=False, profile_batch=0)
    return [board, HParamsSummary(log_dir, searched, monitor, direction)] if searched else [board]


class HParamsSummary(keras.callbacks.Callback):
    """Writes a trial's searched values (TensorBoard's HParams session) and, after every
    fit, its objective so far: the best ``monitor`` value, as the ``objective`` scalar."""

    def __init__(self, log_dir: str, searched: dict[str, object], monitor: str, direction: str):
        super().__init__()
        self.log_dir = log_dir
        self.searched = {
            k: v if isinstance(v, bool | int | float | str) else str(v) for k, v in searched.items()
        }
        self.monitor = monitor
        self.pick = max if direction == "maximize" else min
        self.values: list[float] = []
        self._written = False

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and math.isfinite(value):
            self.values.append(float(value))

    def on_train_end(self, logs=None):
        import tensorflow as tf
        from tensorboard.plugins.hparams import api as hp

        with tf.summary.create_file_writer(self.log_dir).as_default():
            if not self._written:
                hp.hparams(self.searched, trial_id=str(self.searched.get("trial", "")))
                self._written = True
            if self.values:
                tf.summary.scalar("objective", self.pick(self.values), step=len(self.values))
