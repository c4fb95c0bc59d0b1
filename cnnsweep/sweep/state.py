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

from cnnsweep.errors import StopReason
from cnnsweep.sweep.launch import TrialLauncher
from cnnsweep.sweep.settings.frozen import SweepSettings
from cnnsweep.sweep.study.storage import OpenStorage
from cnnsweep.sweep.workers.env import WorkerEnv
from cnnsweep.sweep.workers.interrupts import StopRequest

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
    stop_request: StopRequest
    constrained: bool  # the sampler learns from infeasible trials through a constraint
    told: WorkerEnv = field(default_factory=WorkerEnv)  # what this process was told as a worker
    deadline: float | None = None  # time.time() by which training must end (hydra.sweeper.timeout)
    stopped_by: list[StopReason] = field(default_factory=list)  # why the sweep ended early
    tracker: SweepTracker | NoTracker = field(default_factory=lambda: NoTracker())  # tracking=mlflow's line


class NoTracker:
    """The tracker of a sweep without ``tracking=``: told everything, does nothing."""

    def open_parent(self) -> None:
        return None

    def progress(self) -> None:
        return None

    def trial_started(self, trial: optuna.trial.Trial) -> None:
        return None

    def trial_ended(self, run: object, number: int, metrics: object) -> None:
        return None

    def trial_interrupted(self, run: object) -> None:
        return None

    def finish(self, interrupted: bool) -> None:
        return None


def training_deadline(settings: SweepSettings, started: float) -> float | None:
    """When training must end for the sweep to finish, report included, within its timeout:
    the coordinator keeps a reserve for writing the records and the report (3% of the
    budget, 5 s to 60 s). Its workers are told this deadline (:class:`WorkerEnv`)."""
    if settings.timeout is None:
        return None
    low, high = REPORT_RESERVE_S
    return started + settings.timeout - min(high, max(low, REPORT_RESERVE_SHARE * settings.timeout))
