"""A single run (``python -m cnnsweep tracking=mlflow``) as one MLflow run.

Its resolved config as params, every epoch live, then its final metrics, files and
model; a run that fails is ended as failed with its reason. The run's folder stays
the truth: a tracker that cannot be reached costs a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cnnsweep import run_files
from cnnsweep.config import dotted_keys
from cnnsweep.errors import CnnsweepError
from cnnsweep.hooks import TrialHooks
from cnnsweep.masking import mask_password
from cnnsweep.tracking import TrackingSettings

log = logging.getLogger("cnnsweep")

DEFAULT_EXPERIMENT = "cnnsweep"


class _EpochsToRun(TrialHooks):
    """A single run's hooks: nobody prunes or stops it; its epochs go to its tracked run."""

    def __init__(self, send: Callable[[int, Mapping[str, float]], None]) -> None:
        self.send = send

    @property
    def wants_epoch_logs(self) -> bool:
        return True

    def epoch_logged(self, epoch: int, logs: Mapping[str, float]) -> None:
        self.send(epoch, logs)


def tracked_run(
    settings: TrackingSettings, config: dict[str, Any], run_dir: Path, train: Callable[..., Any]
) -> Any:
    """``train(config, run_dir, hooks=...)`` with the run sent to MLflow as it goes."""
    from cnnsweep.tracking.mlflow_exporter import MlflowExporter

    exporter = MlflowExporter(settings, experiment=DEFAULT_EXPERIMENT)
    _mask_saved_uri(run_dir, settings.uri)
    run_id = exporter.start_run(
        run_dir.name, dotted_keys(config), {"cnnsweep.kind": "run", "cnnsweep.run_dir": run_dir}
    )
    if run_id is None:
        return train(config, run_dir)
    log.info("MLflow: %s, %s", exporter.where, exporter.run_url(run_id))
    try:
        result = train(
            config,
            run_dir,
            hooks=_EpochsToRun(lambda epoch, logs: exporter.log_metrics(run_id, logs, step=epoch)),
        )
    except CnnsweepError as exc:
        metrics = getattr(exc, "metrics", None) or run_files.failed_metrics(str(exc))
        exporter.send_run_end(run_id, run_dir, metrics, str(metrics.get("status", "failed")))
        raise
    except BaseException:
        exporter.end_run(run_id, "KILLED")
        raise
    exporter.send_run_end(run_id, run_dir, result.metrics, result.status)
    exporter.log_keras_model(run_id, run_dir / run_files.MODEL_FILE)
    return result


def _mask_saved_uri(run_dir: Path, uri: str | None) -> None:
    """Hydra saved the command line and the config before the run: keep a password out of them."""
    if not uri or mask_password(uri) == uri:
        return
    hydra_yaml = run_files.HYDRA_CONFIG.with_name("hydra.yaml")  # its override_dirname
    for name in (run_files.HYDRA_CONFIG, run_files.HYDRA_OVERRIDES, hydra_yaml):
        path = run_dir / name
        if path.is_file():
            path.write_text(path.read_text().replace(uri, mask_password(uri)))
