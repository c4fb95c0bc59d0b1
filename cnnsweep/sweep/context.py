"""The Optuna trial of the job running in this process, set by the sweeper.

Trials run in the sweeper's own process (Hydra's basic launcher), so the job
reads its trial from here to report epochs to the pruner.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

current_trial: Any = None  # optuna.trial.Trial while a sweep's job runs


def pruning_reporter() -> Callable[[int, float], bool] | None:
    """A ``report_epoch`` hook for :func:`cnnsweep.train.train`, or None outside sweeps."""
    trial = current_trial
    if trial is None or len(trial.study.directions) > 1:
        return None  # Optuna prunes single-objective studies only

    def report(epoch: int, value: float) -> bool:
        trial.report(value, step=epoch)
        return trial.should_prune()

    return report
