"""One Hydra job: a single training run, or one trial of a sweep.

    python -m cnnsweep dataset=digits trainer.epochs=2      # a run: errors propagate
    python -m cnnsweep --multirun +sweep=seed_cnn           # trials: errors become a status

A single run returns its objective and lets every error reach the entry point,
which turns it into one line and an exit status. A trial never raises for a bad
trial: what went wrong is its status (``infeasible``, ``failed``) with the
reason, returned as the trial's metrics.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from cnnsweep import run_files
from cnnsweep.config import plain_config
from cnnsweep.errors import ConfigError, Infeasible, TrialError, UserError
from cnnsweep.hooks import TrialHooks
from cnnsweep.validation import validate_config

log = logging.getLogger("cnnsweep")


def run_dir() -> Path:
    """The folder Hydra gave the job that runs now."""
    return Path(HydraConfig.get().runtime.output_dir)


def run(config: DictConfig, hooks: TrialHooks | None = None) -> float | dict[str, Any] | None:
    """Hydra's task: train one model in the job's output dir.

    Returns:
        A single run's objective; a trial's metrics (status ``complete``,
        ``pruned``, ``failed`` or ``infeasible``).

    Raises:
        UserError, TrialError: a single run's bad input or failed training.
    """
    hydra_config = HydraConfig.get()
    if hydra_config.mode != RunMode.RUN:
        return run_trial(plain_config(config), run_dir(), int(hydra_config.job.num), hooks or TrialHooks())
    from cnnsweep.tracking import tracking_settings
    from cnnsweep.training import train

    tracking = tracking_settings(
        OmegaConf.to_container(config.tracking, resolve=True)  # type: ignore[arg-type]
        if "tracking" in config
        else None
    )
    if tracking is None:
        result = train(plain_config(config), run_dir())
    else:
        from cnnsweep.tracking.single_run import tracked_run

        result = tracked_run(tracking, plain_config(config), run_dir(), train)
    log.info("outputs: %s", run_dir())
    return result.objective


def run_trial(
    config: dict[str, Any], trial_dir: Path, trial_number: int, hooks: TrialHooks
) -> dict[str, Any]:
    """One trial of a sweep: whatever goes wrong is recorded, not raised."""
    from cnnsweep.training import train

    try:
        # The sweep checked every value no trial changes before its first trial, so
        # a rule broken here is broken by this trial's searched values.
        plan = validate_config(config, memory_share=hooks.memory_share)
    except ConfigError as exc:
        return _record(trial_dir, trial_number, Infeasible(str(exc), key=exc.key))
    except Infeasible as exc:
        return _record(trial_dir, trial_number, exc)
    try:
        return train(config, trial_dir, hooks=hooks, trial_number=trial_number, plan=plan).metrics
    except TrialError as exc:
        return exc.metrics if exc.metrics is not None else _record(trial_dir, trial_number, exc)
    except UserError as exc:  # e.g. a searched dataset whose files are missing
        return _record(trial_dir, trial_number, TrialError(str(exc), key=exc.key))
    except Exception as exc:  # an unexpected error still must not stop the sweep
        log.exception("trial %d failed", trial_number)
        return _record(trial_dir, trial_number, TrialError(f"{type(exc).__name__}: {exc}"))


def _record(trial_dir: Path, trial_number: int, error: TrialError) -> dict[str, Any]:
    """A trial that never trained: its ``metrics.json`` holds the status and the reason."""
    metrics = {"status": error.status, "objective": None, "error": str(error), "trial_number": trial_number}
    run_files.write_metrics(trial_dir, metrics)
    log.warning("trial %d %s: %s", trial_number, error.status, error)
    return metrics
