"""The training recipe: optimizer, learning-rate schedule and loss, from ``trainer.*``.

    python -m cnnsweep dataset=fashion_mnist trainer.optimizer=adamw trainer.lr_schedule=one_cycle

``trainer=seed`` keeps the lesson's recipe exactly: Adam at a constant 0.001 on
plain categorical cross-entropy. Imports Keras: import it late.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from cnnsweep.backend import import_keras

keras: Any = import_keras()


@keras.saving.register_keras_serializable(package="cnnsweep")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """Smith's one-cycle policy: a cosine rise from ``peak/25`` to ``peak`` over the first
    ``warmup_fraction`` of the steps, then a cosine fall to ``peak/10**4``."""

    def __init__(self, peak: float, total_steps: int, warmup_fraction: float = 0.3) -> None:
        self.peak = float(peak)
        self.total_steps = int(total_steps)
        self.warmup_fraction = float(warmup_fraction)

    def __call__(self, step: Any) -> Any:
        ops = keras.ops
        step = ops.cast(step, "float32")
        rise = max(1.0, self.total_steps * self.warmup_fraction)
        fall = max(1.0, self.total_steps - rise)
        start, end = self.peak / 25.0, self.peak / 1e4
        up = ops.minimum(step / rise, 1.0)
        down = ops.clip((step - rise) / fall, 0.0, 1.0)
        rising = start + (self.peak - start) * (1.0 - ops.cos(math.pi * up)) / 2.0
        falling = end + (self.peak - end) * (1.0 + ops.cos(math.pi * down)) / 2.0
        return ops.where(step < rise, rising, falling)

    def get_config(self) -> dict[str, Any]:
        return {"peak": self.peak, "total_steps": self.total_steps, "warmup_fraction": self.warmup_fraction}


@keras.saving.register_keras_serializable(package="cnnsweep")
class SizedCosine(keras.optimizers.schedules.LearningRateSchedule):
    """The cosine schedule (a linear warm-up from 0 to ``peak``, then a cosine decay to 0 at
    ``total_steps``) of a run that sizes its length while it trains (``trainer.refit_seconds``):
    :meth:`resize` moves the end. The value is read when the training step is traced, so
    whoever resizes it traces the step again (:class:`cnnsweep.callbacks.SizeToTime`)."""

    def __init__(self, peak: float, total_steps: float, warmup_steps: int) -> None:
        self.peak = float(peak)
        self.warmup_steps = int(warmup_steps)
        self.total_steps = float(total_steps)

    def resize(self, total_steps: float) -> None:
        self.total_steps = float(max(total_steps, self.warmup_steps + 1))

    def __call__(self, step: Any) -> Any:
        ops = keras.ops
        step = ops.cast(step, "float32")
        warm = float(max(self.warmup_steps, 1))
        progress = ops.clip(
            (step - self.warmup_steps) / max(1.0, self.total_steps - self.warmup_steps), 0.0, 1.0
        )
        decay = 0.5 * self.peak * (1.0 + ops.cos(math.pi * progress))
        return ops.where(step < self.warmup_steps, self.peak * step / warm, decay)

    def get_config(self) -> dict[str, Any]:
        return {"peak": self.peak, "total_steps": self.total_steps, "warmup_steps": self.warmup_steps}


def warmup_steps(trainer: Mapping[str, Any], epoch_steps: Sequence[int]) -> int:
    """The warm-up's length in steps: the first ``trainer.warmup_epochs`` of the run's own
    epochs, at most half of the run. A sweep's subset epochs are short, so a trial judged
    after its first epoch has already reached its peak rate."""
    left, steps = float(trainer["warmup_epochs"]), 0.0
    for length in epoch_steps:
        if left <= 0:
            break
        steps += min(1.0, left) * length
        left -= 1.0
    return min(sum(epoch_steps) // 2, int(round(steps)))


def learning_rate(
    trainer: Mapping[str, Any], steps_per_epoch: int, epoch_steps: Sequence[int] | None = None
) -> Any:
    """The learning rate as a float (constant) or a schedule over the run's steps:
    ``epoch_steps`` per epoch, by default ``trainer.epochs`` epochs of ``steps_per_epoch``."""
    peak = float(trainer["learning_rate"])
    schedule = trainer["lr_schedule"]
    epoch_steps = list(epoch_steps or [steps_per_epoch] * int(trainer["epochs"]))
    total = max(1, sum(epoch_steps))
    if schedule == "cosine" and trainer.get("refit_seconds") is not None:
        return SizedCosine(peak, total, warmup_steps(trainer, epoch_steps))
    if schedule == "cosine":
        if (warmup := warmup_steps(trainer, epoch_steps)) > 0:
            return keras.optimizers.schedules.CosineDecay(
                0.0, total - warmup, warmup_target=peak, warmup_steps=warmup
            )
        return keras.optimizers.schedules.CosineDecay(peak, total)
    if schedule == "one_cycle":
        return OneCycle(peak, total)
    return peak


def learning_rate_at(
    trainer: Mapping[str, Any], steps_per_epoch: int, step: int, epoch_steps: Sequence[int] | None = None
) -> float:
    """The learning rate the optimizer uses at ``step`` (0-based), as a float."""
    rate = learning_rate(trainer, steps_per_epoch, epoch_steps)
    return float(rate) if isinstance(rate, float) else float(keras.ops.convert_to_numpy(rate(step)))


def optimizer(
    trainer: Mapping[str, Any], steps_per_epoch: int, epoch_steps: Sequence[int] | None = None
) -> Any:
    """Adam (the lesson's), AdamW, or SGD with momentum, on the run's learning rate."""
    rate = learning_rate(trainer, steps_per_epoch, epoch_steps)
    decay = float(trainer["weight_decay"]) or None
    name = trainer["optimizer"]
    if name == "adamw":
        adamw = keras.optimizers.AdamW(learning_rate=rate, weight_decay=decay or 0.0)
        return decay_at_one_rate(adamw) if not isinstance(rate, float) else adamw
    if name == "sgd":
        return keras.optimizers.SGD(
            learning_rate=rate, momentum=float(trainer["momentum"]), nesterov=True, weight_decay=decay
        )
    return keras.optimizers.Adam(learning_rate=rate, weight_decay=decay)


def decay_at_one_rate(optimizer: Any) -> Any:
    """``optimizer`` (Keras's AdamW on a schedule) with its weight decay computed from one
    evaluation of the step's learning rate.

    Keras evaluates the schedule again for every variable's decay, so the traced training
    step holds the schedule once per variable: a small CNN's first epoch took about 0.16 s
    longer for it on 2 CPU cores, paid again by every trial of a sweep. The result is the
    same (both read the rate at the same step); only the instance changes, so a saved
    model's optimizer is Keras's own AdamW. Where Keras no longer has these private names,
    the optimizer is left as it is.
    """
    names = ("_apply_weight_decay", "_use_weight_decay", "_get_current_learning_rate")
    if not all(callable(getattr(optimizer, name, None)) for name in names):
        return optimizer
    ops = keras.ops

    def apply_weight_decay(variables: Sequence[Any]) -> None:
        if optimizer.weight_decay is None:
            return
        rate = optimizer._get_current_learning_rate()
        for variable in variables:
            if optimizer._use_weight_decay(variable):
                step = ops.cast(optimizer.weight_decay, variable.dtype) * ops.cast(rate, variable.dtype)
                variable.assign(variable - variable * step)

    optimizer._apply_weight_decay = apply_weight_decay
    return optimizer


def loss(trainer: Mapping[str, Any]) -> Any:
    """Categorical cross-entropy, with label smoothing when the trainer asks for it."""
    return keras.losses.CategoricalCrossentropy(label_smoothing=float(trainer["label_smoothing"]))
