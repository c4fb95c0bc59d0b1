"""The refit: the chosen configuration trained again on every training image
(``hydra.sweeper.refit``); the time the budget keeps back for it is in
:mod:`cnnsweep.sweep.budget`."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from cnnsweep import run_files
from cnnsweep.sweep.budget import SIZED_REFIT_FLOOR, epoch_seconds, refit_seconds, refit_tail_seconds
from cnnsweep.sweep.launch import RefitHooks
from cnnsweep.sweep.study import records
from cnnsweep.timing import format_seconds

if TYPE_CHECKING:
    from cnnsweep.sweep.state import Sweep

log = logging.getLogger("cnnsweep")


def refit(sweep: Sweep) -> None:
    """Train the best configuration (the confirmed best, where ``hydra.sweeper.confirm`` ran)
    again on training plus validation images, in ``sweep_dir/refit-<trial>``; its test
    accuracy goes beside the trial's. It trains the trial's best epoch count, or with
    ``hydra.sweeper.refit_share`` as many epochs as the time left holds (its learning-rate
    schedule spans them all).

    Selection used validation only; the refit's test accuracy is reported, never used to choose.
    A refit already done for the same best trial is kept, not repeated.
    """
    study = sweep.study
    trial = records.chosen_best(study)
    if not sweep.settings.single_objective or trial is None:
        log.info(
            "refit skipped: %s",
            "a multi-objective sweep" if not sweep.settings.single_objective else "no complete trial",
        )
        return
    done = study.user_attrs.get(records.REFIT_ATTR) or {}
    if done.get("trial") == trial.number and done.get("status") == "complete":
        return
    searched = records.metrics_of(trial)
    epochs = int(searched.get("best_epoch") or 1)
    seconds = None
    if sweep.deadline is not None and sweep.settings.refit_share:
        # Sized to the time left, less what the run spends beyond training (as a trial does).
        seconds = sweep.deadline - time.time() - refit_tail_seconds(sweep.study)
        needed = SIZED_REFIT_FLOOR * epoch_seconds(searched)
        if seconds < needed:
            log.warning(
                "refit skipped: %s left, less than the %d epochs it needs to size itself (about %s)",
                format_seconds(max(0.0, seconds)),
                SIZED_REFIT_FLOOR,
                format_seconds(needed),
            )
            return
    elif sweep.deadline is not None:
        needed = refit_seconds(searched)
        if time.time() + needed > sweep.deadline:
            log.warning(
                "refit skipped: about %s of training would overrun hydra.sweeper.timeout",
                format_seconds(needed),
            )
            return
    if seconds is None:
        log.info(
            "refit: trial %d's configuration on every training image for %d epochs", trial.number, epochs
        )
    else:
        log.info(
            "refit: trial %d's configuration on every training image for the epochs %s of training hold",
            trial.number,
            format_seconds(seconds),
        )
    subdir = f"{records.REFIT_DIR_PREFIX}{trial.number}"
    try:
        metrics = sweep.launcher.refit(
            trial, epochs, subdir, RefitHooks(sweep.stop_request.requested), seconds=seconds
        )
    except OSError as exc:
        metrics = run_files.failed_metrics(run_files.write_error_message(exc, sweep.settings.sweep_dir))
    study.set_user_attr(
        records.REFIT_ATTR,
        {
            "trial": trial.number,
            "epochs": metrics.get("epochs_run") or epochs,
            "dir": subdir,
            "status": metrics.get("status"),
            "test_acc": metrics.get("test_acc"),
            "error": metrics.get("error"),
        },
    )
    log.info(
        "refit: test_acc %s (trial %d alone: %s)",
        metrics.get("test_acc"),
        trial.number,
        searched.get("test_acc"),
    )
