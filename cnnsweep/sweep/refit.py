"""The refit: the best trial's configuration trained again on every training image,
and the time a sweep's budget keeps back for it (``hydra.sweeper.refit``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cnnsweep import run_files
from cnnsweep.sweep import records
from cnnsweep.sweep.launch import RefitHooks
from cnnsweep.timing import format_seconds

if TYPE_CHECKING:
    from cnnsweep.sweep.state import Sweep

log = logging.getLogger("cnnsweep")

REFIT_FIXED_S = 2.0  # a refit's cost beyond its epochs: building the model, the test split, model.keras


def search_deadline(sweep: Sweep) -> float | None:
    """When the search's training must end: the sweep's deadline, less (with
    ``hydra.sweeper.refit``) the time the refit of the best trial so far will take."""
    if sweep.deadline is None or not sweep.settings.refit or len(sweep.settings.directions) != 1:
        return sweep.deadline
    best = records.best_trials(sweep.study)
    return sweep.deadline - (refit_seconds(records.metrics_of(best[0])) if best else 0.0)


def refit_seconds(metrics: Mapping[str, Any]) -> float:
    """About how long a refit of the trial with these ``metrics`` takes: its best epoch count
    on every training image (training plus validation), at the trial's own images per
    second, with a tenth more and :data:`REFIT_FIXED_S` for building, testing and saving."""
    speed = float(metrics.get("images_per_second") or 0)
    if speed <= 0:
        return REFIT_FIXED_S
    images = int(metrics.get("train_images") or 0) + int(metrics.get("val_images") or 0)
    return 1.1 * int(metrics.get("best_epoch") or 1) * images / speed + REFIT_FIXED_S


def refit(sweep: Sweep) -> None:
    """Train the best configuration again on training plus validation images, for its best
    epoch count, in ``sweep_dir/refit-<trial>``; its test accuracy goes beside the trial's.

    Selection used validation only; the refit's test accuracy is reported, never used to choose.
    A refit already done for the same best trial is kept, not repeated.
    """
    study = sweep.study
    best = records.best_trials(study)
    if len(sweep.settings.directions) != 1 or not best:
        log.info("refit skipped: %s", "no complete trial" if not best else "a multi-objective sweep")
        return
    trial = best[0]
    done = study.user_attrs.get(records.REFIT_ATTR) or {}
    if done.get("trial") == trial.number and done.get("status") == "complete":
        return
    searched = records.metrics_of(trial)
    epochs = int(searched.get("best_epoch") or 1)
    if sweep.deadline is not None:
        needed = refit_seconds(searched)
        if time.time() + needed > sweep.deadline:
            log.warning("refit skipped: about %s of training would overrun hydra.sweeper.timeout",
                        format_seconds(needed))
            return
    log.info("refit: trial %d's configuration on every training image for %d epochs", trial.number, epochs)
    subdir = f"{records.REFIT_DIR_PREFIX}{trial.number}"
    try:
        metrics = sweep.launcher.refit(trial, epochs, subdir, RefitHooks(sweep.ctrl_c.requested))
    except OSError as exc:
        metrics = {"status": "failed", "error": run_files.write_error_message(exc, sweep.settings.sweep_dir)}
    study.set_user_attr(records.REFIT_ATTR, {
        "trial": trial.number, "epochs": epochs, "dir": subdir, "status": metrics.get("status"),
        "test_acc": metrics.get("test_acc"), "error": metrics.get("error")})
    log.info("refit: test_acc %s (trial %d alone: %s)", metrics.get("test_acc"), trial.number,
             searched.get("test_acc"))
