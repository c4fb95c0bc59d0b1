"""The thin layer between Hydra and :func:`cnnsweep.train.train`.

User mistakes end as one line on stderr and a non-zero exit status, never a
traceback: before Hydra writes anything (:class:`CheckConfigCallback`) when the
config alone shows the problem, or from the job when the data does.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any, NoReturn

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from cnnsweep.errors import TrialError, UserError
from cnnsweep.validation import validate_config

log = logging.getLogger("cnnsweep")

EXIT_USER_ERROR = 2
EXIT_TRIAL_FAILED = 1


def exit_with_user_error(exc: UserError) -> NoReturn:
    """One line on stderr, exit status 2: how every user mistake ends."""
    print(f"cnnsweep: error: {exc}", file=sys.stderr)
    sys.exit(EXIT_USER_ERROR)


def check_output_dir(directory: str, key: str) -> None:
    """Fail early when ``directory`` cannot be created or written."""
    from cnnsweep.artifacts import ensure_writable_dir

    try:
        ensure_writable_dir(Path(directory))
    except OSError as exc:
        raise UserError(f"{key}={directory} is not a writable directory ({exc.strerror}). "
                        f"Choose another with {key}=PATH.") from None


class CheckConfigCallback(Callback):
    """Validate the composed config and the output folder before any job starts.

    Hydra turns exceptions raised by callbacks into warnings, so a failed check
    exits here directly (SystemExit passes through Hydra's handlers).
    """

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            validate_config(_plain(config))
            check_output_dir(str(config.hydra.run.dir), "hydra.run.dir")
        except UserError as exc:
            exit_with_user_error(exc)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            check_output_dir(str(config.hydra.sweep.dir), "hydra.sweep.dir")
        except UserError as exc:
            exit_with_user_error(exc)


def _plain(config: DictConfig) -> dict[str, Any]:
    """The run's own keys as plain containers (no ``hydra`` node)."""
    return {key: OmegaConf.to_container(config[key], resolve=True)
            for key in ("dataset", "model", "trainer")}


def run_job(cfg: DictConfig) -> Any:
    """Hydra's task function: train one model in the job's output dir.

    In a single run, returns the objective; a user error exits with status 2 and
    a failed training with status 1, each with one line on stderr. In a sweep,
    returns the trial's metrics (status ``complete``, ``pruned``, ``failed`` or
    ``infeasible``) and never raises for a bad trial.
    """
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    if hydra_cfg.mode != RunMode.RUN:
        return run_trial(_plain(cfg), run_dir, int(hydra_cfg.job.num))

    from cnnsweep.train import train

    try:
        result = train(_plain(cfg), run_dir)
    except UserError as exc:
        exit_with_user_error(exc)
    except TrialError as exc:
        print(f"cnnsweep: training failed: {exc} (details in {run_dir}/metrics.json)",
              file=sys.stderr)
        sys.exit(EXIT_TRIAL_FAILED)
    log.info("outputs: %s", run_dir)
    return result.objective


def run_trial(cfg: dict[str, Any], run_dir: Path, trial_number: int) -> dict[str, Any]:
    """One trial of a sweep: whatever goes wrong is recorded, not raised."""
    from cnnsweep import artifacts
    from cnnsweep.callbacks import StopWhenAsked
    from cnnsweep.errors import ConfigError
    from cnnsweep.sweep.context import check_stop, pruning_reporter
    from cnnsweep.train import train

    try:
        return train(cfg, run_dir, trial_number=trial_number, report_epoch=pruning_reporter(),
                     extra_callbacks=[StopWhenAsked(check_stop)]).metrics
    except ConfigError as exc:  # infeasible architecture, or a searched value out of range
        status, error = "infeasible", str(exc)
    except TrialError as exc:
        status, error = "failed", str(exc)
    except UserError as exc:
        status, error = "failed", str(exc)
    except Exception as exc:  # an unexpected error still must not stop the sweep
        log.exception("trial %d failed", trial_number)
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    metrics_path = run_dir / artifacts.METRICS_FILE
    if status == "failed" and metrics_path.is_file():
        import json

        recorded = json.loads(metrics_path.read_text())
        if recorded.get("status") == "failed":
            return recorded  # train() already wrote the failure with its history
    metrics = {"status": status, "objective": None, "error": error, "trial_number": trial_number}
    artifacts.write_metrics(run_dir, metrics)
    log.warning("trial %d %s: %s", trial_number, status, error)
    return metrics
