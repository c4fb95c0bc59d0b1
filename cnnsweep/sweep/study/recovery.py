"""Trials that will never finish, failed and queued again once: those a killed sweep left
running, those of a worker that died, and on a shared storage those whose machine stopped
sending heartbeats (or never started)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from cnnsweep.sweep.study import records
from cnnsweep.sweep.study.storage import OpenStorage, fail_trial, stale_trials

log = logging.getLogger("cnnsweep")


def abandon(study: optuna.Study, number: int, reason: str) -> None:
    """Fail a trial that will never finish, and queue its parameters again once.

    It does not count toward n_trials; its retry does (``retry_of`` in trials.csv).
    """
    trial = study.get_trials(deepcopy=False)[number]
    if trial.state != TrialState.RUNNING:
        return
    try:
        fail_trial(study, trial, {records.ABANDONED_ATTR: reason})
    except optuna.exceptions.UpdateFinishedTrialError:
        return  # someone else (a heartbeat check) already failed it
    if trial.user_attrs.get(records.RETRY_ATTR) is None:
        study.enqueue_trial(trial.params, user_attrs={records.RETRY_ATTR: number}, skip_if_exists=False)
        reason += "; queued again"
    log.warning("trial %d %s", number, reason)


def recover_interrupted(
    study: optuna.Study, storage: OpenStorage, alive: Callable[[Any], bool] | None = None
) -> None:
    """Fail the trials a dead sweep left running, and queue each again once.

    With the default file storage in the sweep dir only this command writes
    the study, so a trial still running now was orphaned, unless ``alive`` says
    its worker (a SLURM job submitted earlier) still runs. A shared storage
    (PostgreSQL) is written by other live machines too: only trials whose
    heartbeat lapsed are recovered (:func:`recover_stale`).
    """
    if storage.shared:
        recover_stale(study, storage)
        return
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if alive is None or not alive(trial.user_attrs.get(records.WORKER_ATTR)):
            abandon(study, trial.number, "was running when the sweep was killed")


def recover_stale(study: optuna.Study, storage: OpenStorage) -> bool:
    """Fail and queue again the trials of machines that stopped sending heartbeats; True
    when there were any (the study changed).

    Several machines may find the same trial at once; the storage lets one of
    them fail it, and only that one queues its retry.
    """
    if storage.heartbeat is None:  # a file of the sweep dir: no heartbeats to lapse
        return False
    grace = storage.heartbeat.grace_period
    lapsed = {
        t.number: f"lost: its machine sent no heartbeat for over {grace} s" for t in stale_trials(study)
    }
    for trial in never_beat(study, grace):
        lapsed.setdefault(trial.number, f"lost: its machine sent no heartbeat at all in {grace} s")
    for number, reason in sorted(lapsed.items()):
        abandon(study, number, reason)
    return bool(lapsed)


def never_beat(study: optuna.Study, grace_period: float) -> list[FrozenTrial]:
    """Running trials whose heartbeat never started, older than the grace period: a machine
    that died between asking for the trial and its first beat, or a create that committed
    before its connection dropped (and was retried). Optuna's own check only sees trials
    that beat at least once."""
    cutoff = datetime.now() - timedelta(seconds=grace_period)
    return [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if records.BEATING_ATTR not in t.user_attrs
        and t.datetime_start is not None
        and t.datetime_start < cutoff
    ]


def abandon_trials_of_worker(study: optuna.Study, worker: int | str, how: str) -> None:
    """A worker (a process id, or ``slurm-<job id>``) died: fail its trial and queue it again."""
    name = f"SLURM job {worker[len('slurm-') :]}" if isinstance(worker, str) else f"worker process {worker}"
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if trial.user_attrs.get(records.WORKER_ATTR) == worker:
            abandon(study, trial.number, f"lost: its {name} died ({how})")
