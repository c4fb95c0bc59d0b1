"""A sweep in an experiment tracker (``tracking=mlflow``): one parent run, a child run per trial.

The coordinator opens the parent run (its id is a study attribute, so a resume, the
worker processes and SLURM jobs all log into the same one) and updates it as trials
end. Whoever runs a trial starts its child run, sends every epoch live and its end.
At the sweep's end the coordinator makes the tracker whole from the study and the
run folders: a trial whose run is missing or half-sent (the server was down) is sent
again, every trial's ``curves.png`` (drawn after its trial by the plot helper), the
best trial's and the refit's models, the report and ``trials.csv``. What still could
not be sent is said in one line; the same command sends it later.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna

from cnnsweep import run_files
from cnnsweep.sweep.settings.frozen import SweepSettings
from cnnsweep.sweep.study import records, reruns
from cnnsweep.tracking import mlflow_exporter as mx

if TYPE_CHECKING:
    from cnnsweep.tracking.mlflow_exporter import MlflowExporter

log = logging.getLogger("cnnsweep")

PARENT_ATTR = "cnnsweep_mlflow_run"  # a study attribute: the sweep's parent run id
SWEEP_FILES = ("report.html", records.TRIALS_FILE, records.RESULTS_FILE, "summary.md", reruns.CONFIRM_FILE)


@dataclass
class TrialRun:
    """A trial's child run while the trial trains."""

    exporter: MlflowExporter
    run_id: str
    epochs_sent: int = 0  # none: another Hydra launcher ran the trial without hooks

    def log_epoch(self, epoch: int, logs: Mapping[str, float]) -> None:
        self.exporter.log_metrics(self.run_id, logs, step=epoch)
        self.epochs_sent += 1


class SweepTracker:
    """What a sweep's processes tell the tracker; each process has its own."""

    def __init__(self, settings: SweepSettings, study: optuna.Study) -> None:
        from cnnsweep.tracking.mlflow_exporter import MlflowExporter

        assert settings.tracking is not None
        self.settings = settings
        self.study = study
        self.exporter = MlflowExporter(settings.tracking, experiment=settings.study_name)
        self._parent: str | None = None

    # ------------------------------------------------------------ the parent run
    def parent_id(self) -> str | None:
        """The sweep's run, as the coordinator stored it in the study."""
        if self._parent is None:
            self._parent = self.study.user_attrs.get(PARENT_ATTR)
        return self._parent

    def open_parent(self) -> str | None:
        """The coordinator: the parent run, created for a new sweep, reopened for a resume."""
        existing = self.parent_id()
        if existing is not None and self.exporter.reopen_run(existing):
            return existing
        tags = {mx.KIND_TAG: "sweep", "cnnsweep.sweep_dir": self.settings.sweep_dir}
        run_id = self.exporter.start_run(self.settings.study_name, sweep_params(self.settings), tags)
        if run_id is not None:
            self.study.set_user_attr(PARENT_ATTR, run_id)
            self._parent = run_id
            log.info("MLflow: %s, %s", self.exporter.where, self.exporter.run_url(run_id))
        return run_id

    def progress(self) -> None:
        """The coordinator, as each trial ends: the best objective so far and the counts."""
        parent = self.parent_id()
        if parent is None:
            return
        counts = records.state_counts(self.study)
        finished = sum(n for state, n in counts.items() if state not in ("running", "waiting"))
        best = records.the_best(self.study)  # the confirmed best, once the confirmation ran
        values: dict[str, Any] = {"finished_trials": finished}
        tags: dict[str, Any] = {f"cnnsweep.trials.{state}": n for state, n in counts.items()}
        if best is not None:
            if best.value is not None:
                values["best_objective"] = best.value
            tags["cnnsweep.best_trial"] = best.trial.number
            tags["cnnsweep.best_is"] = best.basis
        ensemble = self.study.user_attrs.get(records.ENSEMBLE_ATTR) or {}
        if ensemble.get("status") == "complete":
            values["ensemble_test_acc"] = ensemble["test_acc"]
            tags["cnnsweep.ensemble"] = ", ".join(ensemble["members"])
        self.exporter.log_metrics(parent, values, step=finished)
        self.exporter.set_tags(parent, tags)

    # ------------------------------------------------------------ a trial's child run
    def trial_started(self, trial: optuna.trial.Trial) -> TrialRun | None:
        parent = self.parent_id()
        if parent is None:
            return None  # the end of the sweep sends it
        run_id = self.exporter.start_run(
            f"trial {trial.number}",
            dict(trial.params),
            {mx.TRIAL_TAG: trial.number, mx.STATE_TAG: "running"},
            parent,
        )
        return None if run_id is None else TrialRun(self.exporter, run_id)

    def trial_ended(self, run: TrialRun | None, number: int, metrics: Mapping[str, Any]) -> None:
        if run is not None:
            self.exporter.send_run_end(
                run.run_id,
                self.settings.sweep_dir / str(number),
                metrics,
                str(metrics.get("status", "failed")),
                with_history=not run.epochs_sent,
            )

    def trial_interrupted(self, run: TrialRun | None) -> None:
        if run is not None:
            self.exporter.set_tags(run.run_id, {mx.STATE_TAG: "interrupted"})
            self.exporter.end_run(run.run_id, "KILLED")

    # ------------------------------------------------------------ the end of the sweep
    def finish(self, interrupted: bool) -> None:
        """Make the tracker whole from the study and the folders; say what could not be sent."""
        before = self.exporter.unsent
        parent = self.parent_id() or self.open_parent()
        children = None if parent is None else self.exporter.children(parent)
        if parent is None or children is None:
            log.warning(
                "MLflow (%s) could not be reached at the sweep's end: the trials are safe in %s; "
                "run the same command again to send them",
                self.exporter.where,
                self.settings.sweep_dir,
            )
            return
        by_trial: dict[int, list[Any]] = {}
        for run in children:
            if mx.TRIAL_TAG in run.data.tags:
                by_trial.setdefault(int(run.data.tags[mx.TRIAL_TAG]), []).append(run)
        resent = [
            self._complete_trial(parent, trial, by_trial.get(trial.number, []))
            for trial in records.own_trials(self.study)
            if records.counts_toward_budget(trial)
        ]
        if any(resent):  # the best trial's run may be one of them
            children = self.exporter.children(parent) or children
        self._send_models_and_refit(parent, children)
        self.progress()
        self.exporter.log_files(parent, [self.settings.sweep_dir / name for name in SWEEP_FILES])
        self.exporter.end_run(parent, "KILLED" if interrupted else "FINISHED")
        missed = self.exporter.unsent - before
        if missed:
            log.warning(
                "MLflow: %d calls could not be sent (%s); the same command sends what is missing",
                missed,
                self.exporter.where,
            )

    def _complete_trial(self, parent: str, trial: optuna.trial.FrozenTrial, runs: list[Any]) -> bool:
        """Send a trial whose run is missing or half-sent (True), or its late curves.png."""
        sent = [r for r in runs if r.data.tags.get(mx.SENT_TAG) == "true"]
        trial_dir = self.settings.sweep_dir / str(trial.number)
        if not sent:
            for run in runs:  # half-sent while the server was down: send it whole instead
                self.exporter.delete_run(run.info.run_id)
            metrics = _trial_metrics(trial, trial_dir)
            run_id = self.exporter.start_run(
                f"trial {trial.number}", dict(trial.params), {mx.TRIAL_TAG: trial.number}, parent
            )
            if run_id is not None:
                self.exporter.send_run_end(
                    run_id, trial_dir, metrics, records.trial_state(trial), with_history=True
                )
            return True
        run = sent[0]
        curves = trial_dir / run_files.CURVES_FILE
        if mx.CURVES_TAG not in run.data.tags and curves.is_file():
            if self.exporter.log_files(run.info.run_id, [curves]):
                self.exporter.set_tags(run.info.run_id, {mx.CURVES_TAG: "true"})
        return False

    def _send_models_and_refit(self, parent: str, children: list[Any]) -> None:
        best = records.chosen_best(self.study)
        if best is not None:
            runs = [
                r
                for r in children
                if r.data.tags.get(mx.TRIAL_TAG) == str(best.number)
                and r.data.tags.get(mx.SENT_TAG) == "true"
            ]
            model_file = self.settings.sweep_dir / str(best.number) / run_files.MODEL_FILE
            if runs and mx.MODEL_TAG not in runs[0].data.tags:
                self.exporter.log_keras_model(runs[0].info.run_id, model_file)
        refit = self.study.user_attrs.get(records.REFIT_ATTR)
        if not refit or not refit.get("dir") or any(mx.REFIT_TAG in r.data.tags for r in children):
            return
        refit_dir = Path(str(refit["dir"]))
        if not refit_dir.is_absolute():
            refit_dir = self.settings.sweep_dir / refit_dir
        metrics = run_files.read_metrics(refit_dir) or {}
        run_id = self.exporter.start_run(
            f"refit of trial {refit.get('trial')}", {}, {mx.REFIT_TAG: refit.get("trial")}, parent
        )
        if run_id is not None:
            self.exporter.send_run_end(
                run_id, refit_dir, metrics, str(metrics.get("status", "failed")), with_history=True
            )
            self.exporter.log_keras_model(run_id, refit_dir / run_files.MODEL_FILE)


def sweep_params(settings: SweepSettings) -> dict[str, Any]:
    """The parent run's params: the sweep's settings, its space, sampler, pruner and budget."""
    from cnnsweep.masking import mask_password

    params: dict[str, Any] = {
        "study_name": settings.study_name,
        "dataset": settings.run.dataset,
        "n_trials": settings.n_trials,
        "n_jobs": settings.n_jobs,
        "timeout": settings.timeout,
        "objectives": list(settings.objectives),
        "directions": list(settings.directions),
        "sampler": settings.sampler.get("_target_"),
        "pruner": settings.pruner.get("_target_"),
        "fidelity": list(settings.fidelity),
        "patience": settings.patience,
        "refit": settings.refit,
        "ensemble": settings.ensemble,
        "confirm.top_k": settings.confirm.top_k,
        "storage": mask_password(settings.storage) if settings.storage else "sweep dir",
    }
    params.update({f"space.{key}": repr(dist) for key, dist in settings.space.distributions.items()})
    return params


def _trial_metrics(trial: optuna.trial.FrozenTrial, trial_dir: Path) -> dict[str, Any]:
    """A trial's metrics: its metrics.json, else what the study recorded."""
    recorded = {**records.metrics_of(trial), "status": records.trial_state(trial)}
    return run_files.read_metrics(trial_dir) or recorded
