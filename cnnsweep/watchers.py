"""The callbacks of one fit, assembled: early stopping, progress lines, the NaN guard, the
weights to average, and whatever a trial's hooks listen for (the pruner, the deadline, a stop
request, a tracker). The run reads their findings to say how the fit ended (:mod:`cnnsweep.scoring`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnsweep import faults, run_files
from cnnsweep.hooks import TrialHooks

log = logging.getLogger("cnnsweep")


@dataclass
class Watchers:
    """The callbacks of one fit whose findings decide how the run ended."""

    callbacks: list[Any]
    early_stopping: Any  # None for a refit: a fixed epoch count
    non_finite: Any
    progress: Any
    deadline: Any = None  # the sweep's time budget, when the hooks can stop the run
    sizer: Any = None  # trainer.refit_seconds: the epochs planned to fill them
    reporter: Any = None  # the pruner's ear, when one listens
    averager: Any = None  # trainer.average_epochs: the last epochs' weights, to average


def assemble(
    trainer: Mapping[str, Any],
    hooks: TrialHooks,
    run_dir: Path,
    direction: str,
    epochs: int,
    prefix: str,
    *,
    epoch_shares: list[float],
    refit: bool,
    steps_per_epoch: int = 1,
) -> Watchers:
    """Early stopping, progress lines, the NaN guard and whatever the hooks listen for."""
    from cnnsweep.callbacks import (
        AverageWeights,
        EpochProgress,
        EpochReporter,
        LogLearningRate,
        SizeToTime,
        StopAtDeadline,
        StopOnNonFinite,
        StopWhenAsked,
        keras,
    )

    stopping = trainer["early_stopping"]
    monitor = stopping["monitor"]
    watchers = Watchers(
        callbacks=[],
        non_finite=StopOnNonFinite(),
        progress=EpochProgress(epochs, log, logging.DEBUG if trainer["quiet"] else logging.INFO, prefix),
        early_stopping=None
        if refit
        else keras.callbacks.EarlyStopping(
            monitor=monitor,
            patience=int(stopping["patience"]),
            min_delta=float(stopping["min_delta"]),
            restore_best_weights=bool(stopping["restore_best_weights"]),
            mode="auto",
        ),
    )
    watchers.callbacks = [LogLearningRate(), watchers.non_finite, watchers.progress]
    if refit and trainer.get("refit_seconds") is not None:
        watchers.sizer = SizeToTime(trainer["refit_seconds"], steps_per_epoch, watchers.progress)
        watchers.callbacks.append(watchers.sizer)
    if average_epochs := int(trainer.get("average_epochs") or 0):
        watchers.averager = AverageWeights(average_epochs)
        watchers.callbacks.append(watchers.averager)
    if hooks.can_stop:
        watchers.deadline = StopAtDeadline(hooks, epoch_shares)
        watchers.callbacks += [StopWhenAsked(hooks), watchers.deadline]
    if (fault := faults.batch_callback()) is not None:
        watchers.callbacks.append(fault)
    if trainer["tensorboard"]:
        from cnnsweep.callbacks import tensorboard_callbacks

        watchers.callbacks += tensorboard_callbacks(
            str(run_dir / run_files.TENSORBOARD_DIR), hooks.searched_values, monitor, direction
        )
    if hooks.wants_epoch_logs:  # after LogLearningRate, which adds the rate to the logs
        from cnnsweep.callbacks import EpochLogs

        watchers.callbacks.append(EpochLogs(hooks))
    if hooks.reports_epochs and not refit:
        watchers.reporter = EpochReporter(monitor, hooks, epoch_shares)
        watchers.callbacks.append(watchers.reporter)
    return watchers
