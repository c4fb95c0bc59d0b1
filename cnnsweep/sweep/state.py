"""A running sweep's shared state: what the loops, the outputs, the refit read.

:class:`Sweep` holds the checked settings, the open study and storage, how a trial
is launched, the stop request, what this process was told as a worker, and the
time budget. It lives below :mod:`cnnsweep.sweep.runner`, so the modules the
runner calls (outputs, refit) read it without importing the runner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import optuna

from cnnsweep.sweep.interrupts import CtrlC
from cnnsweep.sweep.launch import TrialLauncher
from cnnsweep.sweep.settings import SweepSettings
from cnnsweep.sweep.storage import OpenStorage
from cnnsweep.sweep.worker_env import WorkerEnv

if TYPE_CHECKING:
    from cnnsweep.sweep.tracked import SweepTracker

REPORT_RESERVE_SHARE = 0.03  # of hydra.sweeper.timeout, kept back for the records and the report
REPORT_RESERVE_S = (5.0, 60.0)  # at least, at most


@dataclass
class Sweep:
    """What both loops work with: the checked settings, the study, and how to run a trial."""

    settings: SweepSettings
    study: optuna.Study
    storage: OpenStorage
    launcher: TrialLauncher
    ctrl_c: CtrlC
    constrained: bool  # the sampler learns from infeasible trials through a constraint
    told: WorkerEnv = field(default_factory=WorkerEnv)  # what this process was told as a worker
    deadline: float | None = None  # time.time() by which training must end (hydra.sweeper.timeout)
    stopped_by: list[str] = field(default_factory=list)  # why the sweep ended early
    tracker: SweepTracker | None = None  # tracking=mlflow: this process's line to the tracker


def training_deadline(settings: SweepSettings, told: WorkerEnv, started: float) -> float | None:
    """When training must end for the sweep to finish, report included, within its timeout.

    A worker process gets its coordinator's deadline; a coordinator keeps a reserve
    for writing the records and the report (3% of the budget, 5 s to 60 s).
    """
    if settings.is_worker and told.deadline is not None:
        return told.deadline
    if settings.timeout is None:
        return None
    low, high = REPORT_RESERVE_S
    return started + settings.timeout - min(high, max(low, REPORT_RESERVE_SHARE * settings.timeout))
