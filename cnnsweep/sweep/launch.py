"""One trial as one Hydra job: its config, its folder, its hooks, its result.

The trial's job runs in this process, as Hydra's basic launcher would run it
(``.hydra/`` files, logging, the job's working folder), with the trial's values
as overrides and :class:`SweepTrialHooks` passed to the task, so every epoch
reaches the pruner. Another Hydra launcher is used as it is (one job per trial,
without hooks). This is the only module that uses ``hydra._internal``: Hydra
has no public API to launch a single job with a prepared config.
"""

from __future__ import annotations

import copy
import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import optuna
from hydra._internal.config_loader_impl import get_overrides_dirname  # private: see module doc
from hydra._internal.core_plugins.basic_launcher import BasicLauncher  # private: see module doc
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.core.utils import JobStatus, configure_log, filter_overrides, setup_globals
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

from cnnsweep import run_files
from cnnsweep.hooks import TrialHooks
from cnnsweep.sweep.hydra_job import run_trial_job
from cnnsweep.sweep.overrides import config_overrides, seeded_overrides, trial_overrides
from cnnsweep.sweep.settings.frozen import SweepSettings
from cnnsweep.sweep.study import records
from cnnsweep.sweep.study.storage import mask_password

log = logging.getLogger("cnnsweep")


def pruner_step(epoch: int, epochs_seen: float, *, by_images: bool) -> int:
    """The step the pruner hears after ``epoch`` (1-based): the epoch itself, or (a sweep with
    a fidelity) the training images seen so far in hundredths of an epoch: a full epoch is 100."""
    return round(100 * epochs_seen) if by_images else epoch


@dataclass(frozen=True)
class PathJob:
    """A job of a configuration no trial ran: the number its job is logged under, its values."""

    number: int
    params: Mapping[str, Any]


class SweepTrialHooks(TrialHooks):
    """A trial's line to its sweep: epochs go to the study's pruner; Ctrl-C stops it."""

    def __init__(
        self,
        trial: optuna.trial.Trial,
        stop: threading.Event,
        deadline: float | None = None,
        fidelity: tuple[float, ...] = (),
        *,
        memory_share: int = 1,
        epoch_logs: Callable[[int, Mapping[str, float]], None] | None = None,
    ) -> None:
        self.trial = trial
        self.epoch_logs = epoch_logs  # tracking=mlflow: the trial's run hears every epoch
        self.stop = stop
        self.deadline = deadline  # time.time() by which training must end; None: no budget
        self._memory_share = memory_share  # worker processes on this machine
        # Shares of the training images of the first epochs (they reach the training through
        # the trial's config, trainer.subset_epochs): the pruner then counts images, not epochs.
        self.fidelity = fidelity

    @property
    def reports_epochs(self) -> bool:
        return records.single_objective(self.trial.study)  # Optuna prunes single-objective studies only

    @property
    def can_stop(self) -> bool:
        return True

    @property
    def searched_values(self) -> dict[str, object]:
        return {"trial": self.trial.number, **self.trial.params}

    @property
    def memory_share(self) -> int:
        return self._memory_share

    def report_epoch(self, epoch: int, value: float, epochs_seen: float | None = None) -> bool:
        seen = float(epoch) if epochs_seen is None else epochs_seen
        try:
            self.trial.report(value, step=pruner_step(epoch, seen, by_images=bool(self.fidelity)))
        except optuna.exceptions.UpdateFinishedTrialError:
            return True  # another machine failed it (its heartbeat lapsed) and runs it again: stop
        return self.trial.should_prune()

    @property
    def wants_epoch_logs(self) -> bool:
        return self.epoch_logs is not None

    def epoch_logged(self, epoch: int, logs: Mapping[str, float]) -> None:
        if self.epoch_logs is not None:
            self.epoch_logs(epoch, logs)

    def should_stop(self) -> bool:
        return self.stop.is_set()

    def out_of_time(self, next_epoch_seconds: float) -> bool:
        return self.deadline is not None and time.time() + next_epoch_seconds > self.deadline


class RefitHooks(TrialHooks):
    """The refit's line to its sweep: no pruner, no deadline; Ctrl-C stops it."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop

    @property
    def can_stop(self) -> bool:
        return True

    def should_stop(self) -> bool:
        return self.stop.is_set()


def hide_storage_password(job_config: DictConfig) -> None:
    """Mask the storage's and the tracker's passwords in what Hydra saves to each trial's .hydra/ folder."""
    storage = OmegaConf.select(job_config, "hydra.sweeper.storage", throw_on_resolution_failure=False)
    if isinstance(storage, str):
        job_config.hydra.sweeper.storage = mask_password(storage)
    uri = OmegaConf.select(job_config, "tracking.uri", throw_on_resolution_failure=False)
    if isinstance(uri, str):  # the sweep's tracker has it; the trial's saved config needs no password
        job_config.tracking.uri = mask_password(uri)
    overrides = job_config.hydra.overrides
    overrides.hydra = [mask_password(str(o)) for o in overrides.hydra]
    overrides.task = [mask_password(str(o)) for o in overrides.task]
    dirname = OmegaConf.select(job_config, "hydra.job.override_dirname", throw_on_resolution_failure=False)
    if isinstance(dirname, str):  # the task's overrides in one string (tracking.uri among them)
        job_config.hydra.job.override_dirname = mask_password(dirname)


class TrialLauncher:
    """Runs trials as Hydra jobs of the sweep's task function."""

    def __init__(
        self,
        settings: SweepSettings,
        *,
        hydra_context: HydraContext,
        task_function: TaskFunction,
        config: DictConfig,
    ) -> None:
        self.settings = settings
        self.hydra_context = hydra_context
        self.task_function = task_function
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function
        )
        self._template: DictConfig | None = None
        self._logging_ready = False

    def overrides(self, trial: optuna.trial.Trial | optuna.trial.FrozenTrial) -> list[str]:
        """The trial's command-line overrides (:func:`trial_overrides`)."""
        return trial_overrides(self.settings, trial)

    def run(self, trial: optuna.trial.Trial, hooks: TrialHooks) -> dict[str, Any]:
        """Run ``trial`` to its end; its metrics (``status`` says how it ended).

        Raises:
            OSError: Hydra could not create the trial's folder (a full disk).
        """
        return self._launch(trial, self.overrides(trial), hooks)

    def refit(
        self,
        trial: optuna.trial.FrozenTrial,
        epochs: int,
        subdir: str,
        hooks: TrialHooks,
        seconds: float | None = None,
    ) -> dict[str, Any]:
        """Train ``trial``'s configuration again on every training image for ``epochs`` (or, with
        ``seconds``, for the epochs that many seconds of training hold, ``trainer.refit_seconds``),
        in ``sweep_dir/subdir``; its metrics. A refit trains every epoch on all images, so its
        config has no subset epochs.

        Raises:
            OSError: Hydra could not create the folder (a full disk).
        """
        searched = [o for o in self.overrides(trial) if not o.startswith("trainer.subset_epochs=")]
        extra: dict[str, Any] = {"trainer.refit_epochs": epochs, "hydra.sweep.subdir": subdir}
        if seconds is not None:  # the epochs start its schedule; the run sizes it to the time
            extra["trainer.refit_seconds"] = round(seconds, 1)
        overrides = [*searched, *(f"{key}={value}" for key, value in extra.items())]
        return self._launch(trial, overrides, hooks, extra=extra)

    def confirm(
        self, trial: optuna.trial.FrozenTrial, seed: int, subdir: str, hooks: TrialHooks
    ) -> dict[str, Any]:
        """Train ``trial``'s configuration again with ``seed`` in ``sweep_dir/subdir``; its metrics.

        Raises:
            OSError: Hydra could not create the folder (a full disk).
        """
        overrides = [*seeded_overrides(self.settings, trial, seed), f"hydra.sweep.subdir={subdir}"]
        return self._launch(
            trial, overrides, hooks, extra={"trainer.seed": seed, "hydra.sweep.subdir": subdir}
        )

    def ablate(
        self, number: int, params: Mapping[str, Any], seed: int, subdir: str, hooks: TrialHooks
    ) -> dict[str, Any]:
        """Train one configuration of the ablation path with ``seed`` in ``sweep_dir/subdir``.

        Raises:
            OSError: Hydra could not create the folder (a full disk).
        """
        overrides = [*config_overrides(self.settings, params, seed), f"hydra.sweep.subdir={subdir}"]
        return self._launch(
            PathJob(number, dict(params)),  # type: ignore[arg-type]
            overrides,
            hooks,
            extra={"trainer.seed": seed, "hydra.sweep.subdir": subdir},
        )

    def _launch(
        self,
        trial: optuna.trial.Trial | optuna.trial.FrozenTrial,
        overrides: list[str],
        hooks: TrialHooks,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        if not isinstance(self.launcher, BasicLauncher):  # another launcher: use it as it is
            (job,) = self.launcher.launch([overrides], initial_job_idx=trial.number)
        else:
            job = self._run_here(trial, overrides, hooks, extra or {})
        if job.status == JobStatus.COMPLETED and isinstance(job.return_value, dict):
            return job.return_value
        try:
            job.return_value  # noqa: B018 - raises the job's exception
        except Exception as exc:
            return run_files.failed_metrics(f"{type(exc).__name__}: {exc}")
        return run_files.failed_metrics(f"the job returned {job.return_value!r}, not metrics")

    def _run_here(
        self,
        trial: optuna.trial.Trial | optuna.trial.FrozenTrial,
        overrides: list[str],
        hooks: TrialHooks,
        extra: dict[str, Any],
    ):
        """The trial's job in this process, as Hydra's basic launcher runs one
        (:func:`run_trial_job`: its ``run_job`` without the copies)."""
        setup_globals()
        if not self._logging_ready:  # afterwards, each job's end puts the sweep's logging back
            configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
            self._logging_ready = True
        log.info("trial %d: %s", trial.number, mask_password(" ".join(filter_overrides(overrides))))
        varying = {**trial.params, **extra}
        seed = f"trainer.seed={self.settings.run.trial_seed(trial.number)}"
        if "trainer.seed" not in varying and seed in overrides:  # not when a fixed override pins it
            varying["trainer.seed"] = self.settings.run.trial_seed(trial.number)
        job_config = self._job_config(overrides, varying, template=not extra)
        with open_dict(job_config):
            job_config.hydra.job.id = trial.number
            job_config.hydra.job.num = trial.number
            hide_storage_password(job_config)
        try:
            task = functools.partial(self.task_function, hooks=hooks)  # type: ignore[call-arg]
            return run_trial_job(self.hydra_context, task, job_config)
        finally:
            configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)

    def _job_config(self, overrides: list[str], varying: dict[str, Any], template: bool = True) -> DictConfig:
        """The trial's job config: composed by Hydra once, then updated in place.

        Composing from the YAML files costs ~0.15 s per trial (and copying the
        composed config ~20 ms): when no searched key is a config group, the first
        trial's composed config is a template whose searched values, seed and
        overrides are replaced for each later trial. Trials of one process run one
        after another, and Hydra copies the config it is given for the job, so one
        template serves them all.
        """
        groups = set(self.config.hydra.runtime.choices.keys())
        if self._template is not None and template:
            job_config = self._template
            OmegaConf.set_readonly(job_config.hydra, False)  # the last job's run_job froze it
            with open_dict(job_config):
                for key, value in varying.items():
                    OmegaConf.update(job_config, key, value, merge=False)
                job_config.hydra.overrides.task = list(overrides)
                parsed = OverridesParser.create().parse_overrides(overrides)
                dirname = job_config.hydra.job.config.override_dirname
                job_config.hydra.job.override_dirname = get_overrides_dirname(
                    overrides=parsed,
                    kv_sep=dirname.kv_sep,
                    item_sep=dirname.item_sep,
                    exclude_keys=list(dirname.exclude_keys),
                )
            return job_config
        job_config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
        if template and not any(key in groups for key in varying):
            self._template = copy.deepcopy(job_config)
        return job_config
