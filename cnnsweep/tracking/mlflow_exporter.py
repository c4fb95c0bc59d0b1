"""Runs in MLflow, sent through ``MlflowClient``: never raising, never the truth.

Every call goes through :meth:`MlflowExporter._call`: a tracking server that is down
or slow costs MLflow's own few retries and one warning, then the exporter stays
quiet for :data:`OFFLINE_S` seconds (counting what it did not send) instead of
stalling every epoch of every trial. A sweep sends what is missing at its end
(:mod:`cnnsweep.sweep.tracked`), from the run folders, which hold everything.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cnnsweep import run_files
from cnnsweep.masking import mask_password
from cnnsweep.tracking import TrackingSettings
from cnnsweep.tracking.conversions import (
    artifacts_beside,
    history_rows,
    is_metric,
    model_signature,
    param_text,
)

log = logging.getLogger("cnnsweep")

OFFLINE_S = 30.0  # after a failed call, send nothing for this long
# MLflow's HTTP client retries a refused connection 7 times with growing waits (minutes);
# a tracker must not hold a trial that long. The user's own settings win.
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "15",
}
PARAMS_PER_CALL, METRICS_PER_CALL = 100, 1000  # MLflow's limits on one log_batch

# Tags cnnsweep reads back (the sweep's end finds what is missing by them).
TRIAL_TAG, STATE_TAG, SENT_TAG = "cnnsweep.trial", "cnnsweep.state", "cnnsweep.sent"
CURVES_TAG, MODEL_TAG = "cnnsweep.curves", "cnnsweep.model"
REFIT_TAG, KIND_TAG = "cnnsweep.refit", "cnnsweep.kind"
PARENT_TAG = "mlflow.parentRunId"  # MLflow's own: the UI nests a child run under its parent

# metrics.json key -> MLflow metric name at the end of a run (val_acc / val_loss are also
# per-epoch histories, so their best-epoch values get names of their own).
FINAL_METRICS = {
    "objective": "objective",
    "val_acc": "best_val_acc",
    "val_loss": "best_val_loss",
    "test_acc": "test_acc",
    "test_loss": "test_loss",
    "best_epoch": "best_epoch",
    "epochs_run": "epochs_run",
    "params_count": "params_count",
    "train_seconds": "train_seconds",
    "images_per_second": "images_per_second",
}
STATUS = {
    "complete": "FINISHED",
    "pruned": "FINISHED",
    "failed": "FAILED",
    "infeasible": "FAILED",
    "interrupted": "KILLED",
}


class MlflowExporter:
    """One process's line to an MLflow tracking server (or a local store)."""

    def __init__(self, settings: TrackingSettings, experiment: str) -> None:
        for name, value in HTTP_DEFAULTS.items():
            os.environ.setdefault(name, value)
        import mlflow
        from mlflow import MlflowClient

        logging.getLogger("mlflow").setLevel(logging.WARNING)  # its table set-up lines are not ours
        self.uri = settings.uri or mlflow.get_tracking_uri()
        self.client = MlflowClient(tracking_uri=self.uri)
        self.experiment = settings.experiment or experiment
        self._experiment_id: str | None = None
        self._offline_until = 0.0
        self.unsent = 0  # calls not made or failed since this exporter started

    @property
    def where(self) -> str:
        return f"experiment {self.experiment!r} at {mask_password(self.uri)}"

    # ------------------------------------------------------------ the one way out
    def _call(self, what: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``call(*args, **kwargs)``, or None (with one warning per outage) when it fails."""
        if time.monotonic() < self._offline_until:
            self.unsent += 1
            return None
        try:
            # MLflow prints two "View run" lines per ended run to stdout (one sweep would print
            # two per trial, the URI's password included): cnnsweep names the sweep's run once.
            with contextlib.redirect_stdout(io.StringIO()):
                return call(*args, **kwargs)
        except Exception as exc:
            self.unsent += 1
            reason = mask_password(str(exc).splitlines()[0][:200]) if str(exc) else type(exc).__name__
            if getattr(exc, "error_code", None) in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"):
                log.warning("MLflow refused to %s (%s)", what, reason)  # a bad value, not an outage
                return None
            self._offline_until = time.monotonic() + OFFLINE_S
            log.warning(
                "MLflow (%s) could not %s: %s. Nothing is lost: the run folders keep "
                "everything, and a sweep sends what is missing at its end.",
                self.where,
                what,
                reason,
            )
            return None

    # ------------------------------------------------------------ experiments and runs
    def experiment_id(self) -> str | None:
        if self._experiment_id is None:
            found = self._call("find the experiment", self.client.get_experiment_by_name, self.experiment)
            if found is None and time.monotonic() >= self._offline_until:
                self._call(
                    "create the experiment",
                    self.client.create_experiment,
                    self.experiment,
                    artifact_location=artifacts_beside(self.uri),
                )
                # another worker may have created it first: read it back either way
                found = self._call("find the experiment", self.client.get_experiment_by_name, self.experiment)
            self._experiment_id = None if found is None else str(found.experiment_id)
        return self._experiment_id

    def start_run(
        self, name: str, params: Mapping[str, Any], tags: Mapping[str, Any], parent_id: str | None = None
    ) -> str | None:
        """A new run (a child of ``parent_id``), its params and tags; its id, or None."""
        experiment_id = self.experiment_id()
        if experiment_id is None:
            return None
        all_tags = {**{k: str(v) for k, v in tags.items()}, **({PARENT_TAG: parent_id} if parent_id else {})}
        run = self._call(
            f"start the run {name!r}", self.client.create_run, experiment_id, tags=all_tags, run_name=name
        )
        if run is None:
            return None
        run_id = str(run.info.run_id)
        self.log_params(run_id, params)
        return run_id

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(str(k), param_text(v)) for k, v in params.items()]
        for start in range(0, len(items), PARAMS_PER_CALL):
            self._call(
                "log params", self.client.log_batch, run_id, params=items[start : start + PARAMS_PER_CALL]
            )

    def log_metrics(self, run_id: str, values: Mapping[str, Any], step: int = 0) -> None:
        self.log_metric_rows(run_id, [(step, values)])

    def log_metric_rows(self, run_id: str, rows: Sequence[tuple[int, Mapping[str, Any]]]) -> None:
        """Each ``(step, {name: value})``; values that are not finite numbers are left out."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [
            Metric(str(name), float(value), now, int(step))
            for step, values in rows
            for name, value in values.items()
            if is_metric(value)
        ]
        for start in range(0, len(metrics), METRICS_PER_CALL):
            self._call(
                "log metrics",
                self.client.log_batch,
                run_id,
                metrics=metrics[start : start + METRICS_PER_CALL],
            )

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        self._call(
            "set tags", self.client.log_batch, run_id, tags=[RunTag(str(k), str(v)) for k, v in tags.items()]
        )

    def log_files(self, run_id: str, paths: Sequence[Path]) -> bool:
        """Upload the files that exist; True when every upload went through."""
        before = self.unsent
        for path in paths:
            if path.is_file():
                self._call(f"upload {path.name}", self.client.log_artifact, run_id, str(path))
        return self.unsent == before

    def end_run(self, run_id: str, status: str) -> None:
        self._call("end the run", self.client.set_terminated, run_id, status)

    def run_url(self, run_id: str) -> str:
        """Where a person opens the run: the server's page, or the run's id in a local store."""
        if not self.uri.startswith(("http://", "https://")) or self._experiment_id is None:
            return f"run {run_id}"
        return f"{mask_password(self.uri).rstrip('/')}/#/experiments/{self._experiment_id}/runs/{run_id}"

    def reopen_run(self, run_id: str) -> bool:
        """Mark an ended run running again (a resumed sweep); False if it is not there."""
        run = self._call("find the sweep's run", self.client.get_run, run_id)
        if run is None or run.info.lifecycle_stage != "active":
            return False
        self._call("reopen the sweep's run", self.client.update_run, run_id, status="RUNNING")
        return True

    def children(self, parent_id: str) -> list[Any] | None:
        """Every child run of ``parent_id``; None when MLflow could not be asked."""
        experiment_id = self.experiment_id()
        if experiment_id is None:
            return None
        runs: list[Any] = []
        token = None
        while True:
            page = self._call(
                "list the sweep's runs",
                self.client.search_runs,
                [experiment_id],
                filter_string=f"tags.`{PARENT_TAG}` = '{parent_id}'",
                max_results=1000,
                page_token=token,
            )
            if page is None:
                return None
            runs.extend(page)
            token = page.token
            if not token:
                return runs

    def delete_run(self, run_id: str) -> None:
        self._call("delete an incomplete run", self.client.delete_run, run_id)

    # ------------------------------------------------------------ whole runs from their folders
    def send_run_end(
        self,
        run_id: str,
        run_dir: Path,
        metrics: Mapping[str, Any],
        state: str,
        *,
        with_history: bool = False,
        extra_tags: Mapping[str, Any] | None = None,
    ) -> bool:
        """A run's end from its folder: its resolved config as params, its final metrics, its
        files, its state; ``with_history`` also sends every epoch (when no epoch was sent live).
        True when everything went through (then the run is tagged as sent)."""
        before = self.unsent
        config = run_files.read_run_config(run_dir)
        if config:
            from cnnsweep.config import SECTIONS, dotted_keys  # params named by the config key

            self.log_params(run_id, dotted_keys({k: config[k] for k in SECTIONS if k in config}))
        if with_history:
            self.log_metric_rows(run_id, history_rows(run_dir / run_files.HISTORY_FILE))
        last_step = int(metrics.get("epochs_run") or 0)
        self.log_metrics(
            run_id, {FINAL_METRICS[k]: v for k, v in metrics.items() if k in FINAL_METRICS}, step=last_step
        )
        files = [run_dir / run_files.HISTORY_FILE, run_dir / run_files.METRICS_FILE]
        curves = run_dir / run_files.CURVES_FILE
        tags = {STATE_TAG: state, **(extra_tags or {})}
        if curves.is_file():
            files.append(curves)
            tags[CURVES_TAG] = "true"
        self.log_files(run_id, files)
        if metrics.get("error"):
            tags["cnnsweep.error"] = str(metrics["error"])[:5000]
        self.end_run(run_id, STATUS.get(state, "FAILED"))
        if self.unsent == before:
            tags[SENT_TAG] = "true"
        self.set_tags(run_id, tags)
        return self.unsent == before

    def log_keras_model(self, run_id: str, model_file: Path) -> bool:
        """``model_file`` (a ``model.keras``) as an MLflow model of the run: ``mlflow.keras``'s
        flavour, loadable with ``mlflow.keras.load_model("runs:/RUN_ID/model")``."""
        if not model_file.is_file():
            return False
        before = self.unsent
        self._call("log the model", self._log_keras_model, run_id, model_file)
        return self.unsent == before

    def _log_keras_model(self, run_id: str, model_file: Path) -> None:
        import mlflow
        import mlflow.keras

        from cnnsweep.backend import import_keras

        keras = import_keras()
        model = keras.saving.load_model(model_file, compile=False)
        mlflow.set_tracking_uri(self.uri)
        with mlflow.start_run(run_id=run_id):
            # Listing the requirements keeps MLflow from loading the model in a subprocess to guess them.
            mlflow.keras.log_model(
                model,
                name="model",
                signature=model_signature(model),
                pip_requirements=[f"keras=={keras.__version__}"],
            )
        self.set_tags(run_id, {MODEL_TAG: "true"})
