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
    path = Path(directory)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".cnnsweep-write-test"
        probe.write_bytes(b"")
        probe.unlink()
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


def run_job(cfg: DictConfig) -> float | None:
    """Hydra's task function: train one model in the job's output dir.

    Returns the objective; in a single run, a user error exits with status 2 and a
    failed training with status 1, each with one line on stderr.
    """
    from cnnsweep.train import train

    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    single_run = hydra_cfg.mode == RunMode.RUN
    try:
        result = train(_plain(cfg), run_dir)
    except UserError as exc:
        if not single_run:
            raise
        exit_with_user_error(exc)
    except TrialError as exc:
        if not single_run:
            raise
        print(f"cnnsweep: training failed: {exc} (details in {run_dir}/metrics.json)",
              file=sys.stderr)
        sys.exit(EXIT_TRIAL_FAILED)
    if single_run:
        log.info("outputs: %s", run_dir)
    return result.objective
