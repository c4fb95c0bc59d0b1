"""Run an Optuna study where every trial is one Hydra job of cnnsweep.

    python -m cnnsweep --multirun +sweep=seed_cnn dataset=digits hydra.sweeper.n_trials=10

Each worker loops: ask the study for a trial, launch the job with the trial's
values as overrides (the job reports every epoch to the pruner), tell the study
how it ended. ``n_jobs=1`` runs that loop in this process; ``n_jobs=N`` starts N
worker processes of the same command against one shared storage, so a slot frees
the moment its trial ends. Several machines pointed at one PostgreSQL URL
cooperate the same way.
"""

from __future__ import annotations

import copy
import difflib
import logging
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from hydra._internal.config_loader_impl import get_overrides_dirname
from hydra._internal.core_plugins.basic_launcher import BasicLauncher
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, run_job, setup_globals
from hydra.types import HydraContext, TaskFunction
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from optuna.storages._heartbeat import get_heartbeat_thread
from optuna.trial import TrialState
from tenacity import (
    retry,
    retry_if_not_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from cnnsweep import artifacts, faults
from cnnsweep.errors import ConfigError, InfeasibleArchitecture, UserError
from cnnsweep.hydra_glue import EXIT_USER_ERROR
from cnnsweep.sweep import context, records
from cnnsweep.sweep.resilient import retrying_storage
from cnnsweep.sweep.space import override_for, parse_search_space
from cnnsweep.timing import format_seconds

log = logging.getLogger("cnnsweep")

DIRECTIONS = ("maximize", "minimize")
CONSTRAINED_SAMPLERS = ("TPESampler", "NSGAIISampler", "GPSampler")
SQLITE_FILE = "optuna.db"
JOURNAL_FILE = "optuna.journal"
WORST = {"maximize": -1e12, "minimize": 1e12}  # placeholder value of an infeasible trial
EXIT_TOO_MANY_FAILURES = 3
EXIT_INTERRUPTED = 130  # as a shell reports a Ctrl-C
MAX_WORKER_RESTARTS_PER_JOB = 3
STORAGE_ENV = "CNNSWEEP_STORAGE_URL"  # how workers receive the storage URL


def mask_password(url: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:***@host/db``."""
    return re.sub(r"(://[^:/@]+:)[^/]*@", r"\1***@", url)


def _hide_storage_password(job_config: DictConfig) -> None:
    """Mask the storage password in what Hydra saves to each trial's .hydra/ folder."""
    storage = OmegaConf.select(job_config, "hydra.sweeper.storage", throw_on_resolution_failure=False)
    if isinstance(storage, str):
        job_config.hydra.sweeper.storage = mask_password(storage)
    overrides = job_config.hydra.overrides
    overrides.hydra = [mask_password(str(o)) for o in overrides.hydra]


@dataclass
class Budget:
    done: int
    running: int
    waiting: int


def budget_of(study: optuna.Study) -> Budget:
    trials = study.get_trials(deepcopy=False)
    return Budget(
        done=sum(records.counts_toward_budget(t) for t in trials),
        running=sum(t.state == TrialState.RUNNING for t in trials),
        waiting=sum(t.state == TrialState.WAITING for t in trials),
    )


CONSTRAINT = "architecture_infeasible"  # Optuna constraint: > 0 means the trial broke it


class SweepRunner:
    def __init__(self, settings: Mapping[str, Any], *, hydra_context: HydraContext,
                 task_function: TaskFunction, config: DictConfig) -> None:
        self.settings = settings
        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function
        self.sweep_dir = Path(str(config.hydra.sweep.dir)).absolute()
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function)
        self._template: DictConfig | None = None

    # ------------------------------------------------------------ set-up
    def sweep(self, arguments: list[str]) -> None:
        from cnnsweep.hydra_glue import exit_with_user_error

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        logging.raiseExceptions = False  # a full disk must not print a traceback per log line
        context.install_ctrl_c_handler()
        try:
            self._prepare(arguments)
            self._warm_up()
            # Only now, with the config and the data checked, is the study touched.
            self.study = self._study()
        except UserError as exc:
            exit_with_user_error(exc)
        if self.settings.get("role") == "worker":
            from cnnsweep.plots import wait_for_plots

            try:
                self._work(report_progress=False)
            except KeyboardInterrupt:
                sys.exit(EXIT_INTERRUPTED)
            finally:
                wait_for_plots()
            return
        self._recover_interrupted()
        self.started = time.monotonic()
        self.done_at_start = budget_of(self.study).done
        log.info("sweep %s: %d trials in %s (%d already done), %d at a time; storage %s",
                 self.study.study_name, self.n_trials, self.sweep_dir, self.done_at_start,
                 self.n_jobs, mask_password(self.storage_url))
        try:
            if self.n_jobs == 1:
                self._work(report_progress=True)
            else:
                self._run_workers()
        except KeyboardInterrupt:
            self.interrupted = True
            log.warning("interrupted: finished trials are kept; run the same command again "
                        "(same hydra.sweep.dir) to resume")
        finally:
            from cnnsweep.plots import wait_for_plots

            wait_for_plots()
            self._write_records()
            self._write_report()
        self._summarise()

    def _prepare(self, arguments: list[str]) -> None:
        settings = self.settings
        self.n_trials = self._int_setting("n_trials", minimum=1)
        self.n_jobs = self._int_setting("n_jobs", minimum=1)
        self.timeout = settings.get("timeout")
        if self.timeout is not None and not float(self.timeout) > 0:
            raise ConfigError(f"hydra.sweeper.timeout={self.timeout} must be a positive number "
                              "of seconds, or null for none.")
        self.max_failure_rate = float(settings.get("max_failure_rate", 0.5))
        if not 0.0 <= self.max_failure_rate <= 1.0:
            raise ConfigError(f"hydra.sweeper.max_failure_rate={self.max_failure_rate} must be "
                              "between 0 and 1.")
        params = settings.get("params")
        if isinstance(params, DictConfig):
            params = OmegaConf.to_container(params, resolve=False)
        self.space = parse_search_space(dict(params or {}), arguments)
        if not self.space.distributions:
            raise ConfigError("the search space is empty: add hydra.sweeper.params (or use "
                              "+sweep=NAME), e.g. hydra.sweeper.params.model.filters='choice(16,32)'.")
        self._check_keys()
        self._check_fixed_values()
        self.objectives, self.directions = self._objectives()
        self.sampler = self._sampler()
        self.pruner = instantiate(settings["pruner"])
        self.storage_url, self.storage = self._storage()
        self.base_seed = int(self.config.trainer.seed)
        self.parent_pid = os.getppid()

    def _check_fixed_values(self) -> None:
        """Stop now if a value no trial changes breaks a rule (trainer.epochs=-1).

        The config is checked with each searched key at a value of its range; an
        error naming a searched key, or an architecture that does not fit, is left
        to the trials (recorded as infeasible there).
        """
        from cnnsweep.validation import validate_config

        config = {key: OmegaConf.to_container(self.config[key], resolve=True)
                  for key in ("dataset", "model", "trainer")}
        for key, distribution in self.space.distributions.items():
            *parents, name = key.split(".")
            node: Any = config
            for part in parents:
                node = node.get(part) if isinstance(node, dict) else None
            if isinstance(node, dict) and name in node:
                node[name] = _a_value_of(distribution)
        try:
            validate_config(config)
        except InfeasibleArchitecture:
            return
        except ConfigError as exc:
            key = str(exc).split("=", 1)[0]
            if key not in self.space.distributions:
                raise

    def _warm_up(self) -> None:
        """Import Keras and load the dataset once, before the first trial.

        Trials then pay for training only, and missing or corrupt data stops the
        sweep with one message instead of failing every trial.
        """
        from cnnsweep.data import load_dataset
        from cnnsweep.runtime import import_keras, select_backend

        if "dataset" not in self.space.distributions and "dataset.name" not in self.space.distributions:
            data = self.config.dataset
            load_dataset(str(data.name), data.path, train_limit=data.train_limit,
                         test_limit=data.test_limit)
        if self.settings.get("role") == "worker" or self.n_jobs == 1:
            select_backend(self.config.trainer.get("backend"))
            import_keras()  # the worker processes train; a parent of n_jobs > 1 only watches

    def _int_setting(self, key: str, minimum: int) -> int:
        value = self.settings.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(f"hydra.sweeper.{key}={value!r} must be an integer >= {minimum}.")
        return value

    def _check_keys(self) -> None:
        groups = set(self.config.hydra.runtime.choices.keys())
        missing = object()
        for key in self.space.distributions:
            if key in groups or OmegaConf.select(self.config, key, default=missing) is not missing:
                continue
            known = [f"{section}.{name}" for section in ("dataset", "model", "trainer")
                     for name in self.config[section]]
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" Did you mean {close[0]}?" if close else ""
            raise ConfigError(f"hydra.sweeper.params.{key}: no such key in the config.{hint}")

    def _objectives(self) -> tuple[list[str], list[str]]:
        from cnnsweep.validation import objective_direction

        monitor = str(self.config.trainer.early_stopping.monitor)
        objectives = self.settings.get("objectives")
        objectives = ["objective"] if objectives is None else (
            [objectives] if isinstance(objectives, str) else list(objectives))
        direction = self.settings.get("direction")
        if direction is None:
            directions = [objective_direction(monitor if o == "objective" else o) for o in objectives]
        else:
            directions = [direction] if isinstance(direction, str) else list(direction)
        for value in directions:
            if value not in DIRECTIONS:
                raise ConfigError(f"hydra.sweeper.direction={value!r} must be maximize or minimize "
                                  "(or a list of them, one per objective).")
        if len(directions) != len(objectives):
            if objectives == ["objective"] and len(directions) == 2:
                objectives = ["objective", "params_count"]
            else:
                raise ConfigError(
                    f"hydra.sweeper.direction has {len(directions)} entries but there are "
                    f"{len(objectives)} objectives ({', '.join(objectives)}). Set "
                    "hydra.sweeper.objectives to one metrics.json key per direction.")
        if objectives[0] == "objective" and directions[0] != objective_direction(monitor):
            raise ConfigError(
                f"hydra.sweeper.direction={directions[0]} contradicts trainer.early_stopping."
                f"monitor={monitor}, which is {objective_direction(monitor)}d. Set "
                f"hydra.sweeper.direction={objective_direction(monitor)} (or leave it null).")
        return objectives, directions

    def _sampler(self) -> optuna.samplers.BaseSampler:
        sampler_cfg = self.settings["sampler"]
        target = str(sampler_cfg["_target_"]).rsplit(".", 1)[-1]
        extra: dict[str, Any] = {}
        if sampler_cfg.get("seed") is None and not self._shared_url():
            # Reproducible by default; each worker process gets its own stream so
            # parallel workers do not suggest the same points. (On a shared server
            # storage, machines cannot coordinate seeds: Optuna seeds randomly.)
            worker = int(os.environ.get("CNNSWEEP_WORKER_INDEX", "-1"))
            extra["seed"] = int(self.config.trainer.seed) + 1000 * (worker + 1)
        if target == "GridSampler":
            extra["search_space"] = self.space.grid()
        try:
            return instantiate(sampler_cfg, **extra)
        except Exception as exc:
            cause = exc.__cause__ or exc
            raise ConfigError(f"hydra.sweeper.sampler ({target}) cannot be created: "
                              f"{type(cause).__name__}: {cause}") from None

    def _shared_url(self) -> bool:
        url = self.settings.get("storage") or ""
        return "://" in url and not url.startswith("sqlite")

    def _storage(self) -> tuple[str, Any]:
        url = self.settings.get("storage")
        if url is None:
            sqlite, journal = self.sweep_dir / SQLITE_FILE, self.sweep_dir / JOURNAL_FILE
            use_journal = journal.exists() or (self.n_jobs > 1 and not sqlite.exists())
            url = str(journal) if use_journal else f"sqlite:///{sqlite}"
        # Only a server storage shared between machines needs heartbeats to find
        # dead workers; a file storage is written by this command's processes alone.
        self.shared_storage = "://" in url and not url.startswith("sqlite")
        try:
            if "://" not in url:  # a journal file path
                from optuna.storages.journal import JournalFileBackend

                Path(url).parent.mkdir(parents=True, exist_ok=True)
                return url, optuna.storages.JournalStorage(JournalFileBackend(url))
            kwargs: dict[str, Any] = {}
            if not url.startswith("sqlite"):
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                kwargs = dict(
                    heartbeat_interval=10, grace_period=40,
                    heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1),
                    engine_kwargs={"pool_pre_ping": True},
                )
            elif self.settings.get("storage") is None:
                self.sweep_dir.mkdir(parents=True, exist_ok=True)
            # A server that is down at start-up is an error to report now; once the
            # sweep runs, calls are retried while it restarts (resilient.py).
            open_rdb = retry(stop=stop_after_attempt(4), wait=wait_exponential(multiplier=0.5, max=8),
                             retry=retry_if_not_exception_type(ImportError), reraise=True)(
                retrying_storage if self.shared_storage else optuna.storages.RDBStorage)
            return url, open_rdb(url, **kwargs)
        except ImportError:
            raise UserError(f"hydra.sweeper.storage={mask_password(url)} needs a database driver "
                            "that is not installed. For PostgreSQL: pip install 'cnnsweep[postgres]'."
                            ) from None
        except Exception as exc:
            reason = str(exc).splitlines()[0][:200]
            raise UserError(f"hydra.sweeper.storage={mask_password(url)} cannot be opened "
                            f"({type(exc).__name__}: {mask_password(reason)}). Check the URL, "
                            "that the server runs, and the credentials.") from None

    def _study(self) -> optuna.Study:
        name = self.settings.get("study_name") or self.config.hydra.runtime.choices.get("sweep") \
            or "cnnsweep"
        # Several machines may create the same study (and its tables) at once; the
        # loser of that race sees an integrity error and simply loads it next time.
        create = retry(stop=stop_after_attempt(5), wait=wait_exponential(multiplier=0.5, max=8),
                       reraise=True)(optuna.create_study)
        try:
            study = create(storage=self.storage, sampler=self.sampler, pruner=self.pruner,
                           study_name=str(name), directions=self.directions, load_if_exists=True)
        except Exception as exc:
            raise UserError(f"the study {name!r} cannot be created in "
                            f"{mask_password(self.storage_url)} ({type(exc).__name__}: "
                            f"{mask_password(str(exc).splitlines()[0][:200])}).") from None
        existing = [d.name.lower() for d in study.directions]
        if existing != self.directions:
            raise ConfigError(f"the study {name!r} in this storage optimises {existing}, not "
                              f"{self.directions}. Use another hydra.sweeper.study_name or "
                              "hydra.sweep.dir.")
        if self.settings.get("role") != "worker":
            study.set_user_attr("cnnsweep_objectives", self.objectives)
            study.set_user_attr("cnnsweep_params", list(self.space.distributions))
            study.set_user_attr("cnnsweep_dataset", str(self.config.dataset.name))
        return study

    # ------------------------------------------------------------ trials
    def _recover_interrupted(self) -> None:
        """Fail the trials a dead sweep left running, and queue each again once.

        With the default file storage in the sweep dir only this command writes
        the study, so a trial still running now was orphaned. A shared storage
        (PostgreSQL) relies on heartbeats instead: stale trials are failed and
        retried by Optuna's RetryFailedTrialCallback.
        """
        if self.shared_storage:
            _fail_stale_trials(self.study)
            return
        for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            self._abandon(trial.number, "was running when the sweep was killed")

    def _work(self, report_progress: bool) -> None:
        started = time.monotonic()
        # As inside Study.optimize: a sampler may then stop the study (the grid
        # sampler does once every point was tried) instead of raising.
        self.study._thread_local.in_optimize_loop = True
        self.study._stop_flag = False
        while True:
            context.check_stop()
            if self.study._stop_flag:
                log.info("the sampler has no new points to try (the grid is exhausted)")
                break
            if self.timeout is not None and time.monotonic() - started > float(self.timeout):
                log.info("hydra.sweeper.timeout=%s reached: no new trials", self.timeout)
                break
            if self.shared_storage:
                _fail_stale_trials(self.study)
            budget = budget_of(self.study)
            if budget.done + budget.running >= self.n_trials and budget.waiting == 0:
                break
            if self._too_many_failures():
                break
            if self.settings.get("role") == "worker" and os.getppid() != self.parent_pid:
                log.warning("the sweep's main process is gone: this worker stops")
                break
            trial = self.study.ask(self.space.distributions)
            if self.settings.get("role") == "worker":  # lets the parent recover it if we die
                trial.set_user_attr(records.WORKER_ATTR, os.getpid())
            self._run_trial(trial)
            faults.point("between")
            if report_progress:
                self._progress(trial.number)

    def _overrides(self, trial: optuna.trial.Trial) -> list[str]:
        overrides = list(self.space.fixed)
        overrides += [override_for(key, value) for key, value in trial.params.items()]
        if "trainer.seed" not in trial.params and not any(o.startswith("trainer.seed=")
                                                          for o in self.space.fixed):
            overrides.append(f"trainer.seed={self.base_seed + trial.number}")
        return overrides

    def _job_config(self, overrides: list[str], varying: dict[str, Any]) -> DictConfig:
        """The trial's job config: composed by Hydra once, then copied and updated.

        Composing from the YAML files costs ~0.15 s per trial; when no searched key
        is a config group, the first trial's composed config is a template whose
        searched values (and seed) are replaced in the others.
        """
        groups = set(self.config.hydra.runtime.choices.keys())
        if self._template is not None:
            job_config = copy.deepcopy(self._template)
            with open_dict(job_config):
                for key, value in varying.items():
                    OmegaConf.update(job_config, key, value, merge=False)
                job_config.hydra.overrides.task = list(overrides)
                parsed = OverridesParser.create().parse_overrides(overrides)
                dirname = job_config.hydra.job.config.override_dirname
                job_config.hydra.job.override_dirname = get_overrides_dirname(
                    overrides=parsed, kv_sep=dirname.kv_sep, item_sep=dirname.item_sep,
                    exclude_keys=list(dirname.exclude_keys))
            return job_config
        job_config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
        if not any(key in groups for key in varying):
            self._template = copy.deepcopy(job_config)
        return job_config

    def _launch(self, trial: optuna.trial.Trial) -> JobReturn:
        """Run the trial's job in this process, as Hydra's basic launcher does."""
        overrides = self._overrides(trial)
        if not isinstance(self.launcher, BasicLauncher):  # another launcher: use it as it is
            (job,) = self.launcher.launch([overrides], initial_job_idx=trial.number)
            return job
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        log.info("trial %d: %s", trial.number, " ".join(filter_overrides(overrides)))
        varying = dict(trial.params)
        if "trainer.seed" not in varying:
            varying["trainer.seed"] = self.base_seed + trial.number
        job_config = self._job_config(overrides, varying)
        with open_dict(job_config):
            job_config.hydra.job.id = trial.number
            job_config.hydra.job.num = trial.number
            _hide_storage_password(job_config)
        try:
            return run_job(hydra_context=self.hydra_context, task_function=self.task_function,
                           config=job_config, job_dir_key="hydra.sweep.dir",
                           job_subdir_key="hydra.sweep.subdir")
        finally:
            configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)

    def _run_trial(self, trial: optuna.trial.Trial) -> None:
        context.current_trial = trial
        try:
            with _heartbeat(self.study, trial):
                job = self._launch(trial)
            if job.status == JobStatus.COMPLETED and isinstance(job.return_value, dict):
                metrics = job.return_value
            else:
                exc = job._return_value
                metrics = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        except OSError as exc:  # Hydra could not write the job's folder (disk full?)
            reason = artifacts.write_error_message(exc, self.sweep_dir / str(trial.number))
            log.error("trial %d could not start: %s", trial.number, reason)
            metrics = {"status": "failed", "error": reason}
        except Exception as exc:  # the job could not even start: record it, keep sweeping
            log.exception("trial %d could not run", trial.number)
            metrics = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        except KeyboardInterrupt:
            self._abandon(trial.number, "interrupted (Ctrl-C) before it finished")
            raise
        finally:
            context.current_trial = None
        faults.point("tell")
        self._tell(trial, metrics)

    def _abandon(self, number: int, reason: str) -> None:
        """Fail a trial that will never finish, and queue its parameters again once.

        It does not count toward n_trials; its retry does (``retry_of`` in trials.csv).
        """
        trial = self.study.get_trials(deepcopy=False)[number]
        if trial.state != TrialState.RUNNING:
            return
        storage = self.study._storage
        try:
            storage.set_trial_user_attr(trial._trial_id, records.ABANDONED_ATTR, reason)
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            return  # someone else (a heartbeat check) already failed it
        if trial.user_attrs.get(records.RETRY_ATTR) is None:
            self.study.enqueue_trial(trial.params, user_attrs={records.RETRY_ATTR: number},
                                     skip_if_exists=False)
            reason += "; queued again"
        log.warning("trial %d %s", number, reason)

    def _tell(self, trial: optuna.trial.Trial, metrics: Mapping[str, Any]) -> None:
        status = str(metrics.get("status", "failed"))
        recorded = {key: metrics[key] for key in records.RECORDED if metrics.get(key) is not None}
        constrained = type(self.sampler).__name__ in CONSTRAINED_SAMPLERS
        if status == "complete":
            values = [metrics.get(name) for name in self.objectives]
            if all(isinstance(v, int | float) and math.isfinite(v) for v in values):
                trial.set_user_attr(records.ATTR, {"state": status, **recorded})
                if constrained:
                    trial.set_constraint(CONSTRAINT, 0.0)
                self.study.tell(trial, values)
                return
            status = "failed"
            recorded["error"] = f"objective not finite: {values}"
        trial.set_user_attr(records.ATTR, {"state": status, **recorded})
        if status == "pruned":
            self.study.tell(trial, state=TrialState.PRUNED)
        elif status == "infeasible" and constrained:
            # Told as a complete trial that breaks a constraint, so the sampler learns
            # to avoid the region; reports and best-trial selection skip it.
            trial.set_constraint(CONSTRAINT, 1.0)
            self.study.tell(trial, [WORST[d] for d in self.directions])
        else:
            self.study.tell(trial, state=TrialState.FAIL)

    def _too_many_failures(self) -> bool:
        finished = [t for t in self.study.get_trials(deepcopy=False)
                    if records.counts_toward_budget(t)]
        failed = [t for t in finished if records.trial_state(t) == "failed"]
        if len(finished) < 4 or len(failed) / len(finished) <= self.max_failure_rate:
            return False
        reasons: dict[str, int] = {}
        for trial in failed:
            reason = str(records.metrics_of(trial).get("error", "unknown"))[:160]
            reasons[reason] = reasons.get(reason, 0) + 1
        summary = "; ".join(f"{n}x {r}" for r, n in sorted(reasons.items(), key=lambda x: -x[1])[:3])
        log.error("stopping: %d of %d trials failed (hydra.sweeper.max_failure_rate=%s). %s",
                  len(failed), len(finished), self.max_failure_rate, summary)
        self.failed_out = True
        return True

    # ------------------------------------------------------------ workers
    def _worker_command(self) -> list[str]:
        replaced = ("hydra.sweep.dir=", "hydra.sweeper.storage=", "hydra.sweeper.study_name=",
                    "hydra.sweeper.n_jobs=", "hydra.sweeper.role=")
        args = [a for a in sys.argv[1:] if not a.lstrip("+~").startswith(replaced)]
        # The storage URL (it may hold a password) goes by environment, not argv,
        # where any user of the machine could read it.
        return [sys.executable, "-m", "cnnsweep", *args,
                f"hydra.sweep.dir={self.sweep_dir}",
                f"hydra.sweeper.storage=${{oc.env:{STORAGE_ENV}}}",
                f"hydra.sweeper.study_name={self.study.study_name}",
                "hydra.sweeper.n_jobs=1", "hydra.sweeper.role=worker"]

    def _run_workers(self) -> None:
        gpus = _gpu_count()
        envs = [{**worker_env(index, self.n_jobs, os.cpu_count() or 1, gpus, os.environ),
                 STORAGE_ENV: self.storage_url} for index in range(self.n_jobs)]
        self._recovered: set[int] = set()
        workers = [_start_worker(self._worker_command(), env) for env in envs]
        reported: set[int] = set()
        restarts = 0
        try:
            while any(w.poll() is None for w in workers):
                time.sleep(1.0)
                context.check_stop()
                for index, worker in enumerate(workers):
                    code = worker.poll()
                    if code in (None, 0, EXIT_USER_ERROR, EXIT_INTERRUPTED):
                        continue
                    if worker.pid in self._recovered:
                        continue
                    self._recover_worker(worker.pid, code)
                    budget = budget_of(self.study)
                    if (restarts < MAX_WORKER_RESTARTS_PER_JOB * self.n_jobs
                            and budget.done + budget.running < self.n_trials + budget.waiting):
                        restarts += 1
                        workers[index] = _start_worker(self._worker_command(), envs[index])
                        log.warning("worker %d restarted (pid %d)", index, workers[index].pid)
                self._report_new(reported)
                if self._too_many_failures():
                    for worker in workers:
                        worker.send_signal(signal.SIGINT)
                    break
            for worker in workers:
                worker.wait()
        except KeyboardInterrupt:
            _stop_workers(workers)
            raise
        self._report_new(reported)

    def _recover_worker(self, pid: int, code: int) -> None:
        """A worker died: fail the trial it was running and queue it again."""
        self._recovered.add(pid)
        how = f"signal {-code}" if code < 0 else f"exit status {code}"
        log.warning("worker process %d died (%s)", pid, how)
        for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if trial.user_attrs.get(records.WORKER_ATTR) == pid:
                self._abandon(trial.number, f"lost: its worker process {pid} died ({how})")

    def _report_new(self, reported: set[int]) -> None:
        for trial in self.study.get_trials(deepcopy=False):
            if trial.number not in reported and records.counts_toward_budget(trial):
                reported.add(trial.number)
                self._progress(trial.number)

    # ------------------------------------------------------------ output
    def _progress(self, number: int) -> None:
        trial = self.study.get_trials(deepcopy=False)[number]
        budget = budget_of(self.study)
        state = records.trial_state(trial)
        value = records.metrics_of(trial).get("objective")
        best = records.best_trials(self.study)
        name = self.objectives[0] if self.objectives[0] != "objective" else \
            str(self.config.trainer.early_stopping.monitor)
        if not best:
            best_text = "no feasible trial yet"
        elif len(self.directions) == 1:
            best_text = f"best {best[0].values[0]:.4f} (trial {best[0].number})"
        else:
            best_text = f"{len(best)} on the Pareto front"
        left = max(0, self.n_trials - budget.done)
        finished_here = budget.done - self.done_at_start
        elapsed = time.monotonic() - self.started
        eta = elapsed / finished_here * left if finished_here else 0.0
        value_text = f"{name} {value:.4f}" if isinstance(value, float) else "-"
        log.info("[trial %d] %-10s %s  %s  %d/%d done, %d left, ETA %s", number, state, value_text,
                 best_text, budget.done, self.n_trials, left, format_seconds(eta))
        self._write_records()

    def _write_records(self) -> None:
        try:
            self.sweep_dir.mkdir(parents=True, exist_ok=True)
            records.write_trials_csv(self.sweep_dir, self.study, list(self.space.distributions))
            records.write_optimization_results(self.sweep_dir, self.study, self.objectives,
                                               mask_password(self.storage_url), self.n_trials)
        except Exception as exc:  # records are rebuilt from the storage; never lose the sweep
            log.warning("could not write trials.csv / optimization_results.yaml: %s", exc)

    def _write_report(self) -> None:
        """report.html and its plots; a failure here never costs the sweep's results."""
        if not self.settings.get("report", True):
            return
        if not any(records.counts_toward_budget(t) for t in self.study.get_trials(deepcopy=False)):
            return
        try:
            from cnnsweep.report.build import build_report

            report = build_report([self.sweep_dir], self.sweep_dir)
            log.info("report: %s", report)
        except Exception as exc:
            log.warning("the report could not be built (%s: %s); the sweep's results are intact. "
                        "Rebuild it with: python -m cnnsweep.report %s", type(exc).__name__, exc,
                        self.sweep_dir)

    def _summarise(self) -> None:
        states: dict[str, int] = {}
        for trial in self.study.get_trials(deepcopy=False):
            if trial.state != TrialState.WAITING:
                state = records.trial_state(trial)
                states[state] = states.get(state, 0) + 1
        best = records.best_trials(self.study)
        counts = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
        if best and len(self.directions) == 1:
            log.info("best trial %d: %s = %.4f, test_acc %s, params %s", best[0].number,
                     self.objectives[0], best[0].value, records.metrics_of(best[0]).get("test_acc"),
                     best[0].params)
        log.info("sweep done (%s). outputs: %s", counts, self.sweep_dir)
        if getattr(self, "failed_out", False):
            sys.exit(EXIT_TOO_MANY_FAILURES)
        if getattr(self, "interrupted", False):
            sys.exit(EXIT_INTERRUPTED)


@contextmanager
def _heartbeat(study: optuna.Study, trial: optuna.trial.Trial):
    """Optuna's heartbeat thread for ``trial`` while it runs (a no-op without heartbeats)."""
    thread = get_heartbeat_thread(trial._trial_id, study._storage)
    thread.start()
    try:
        yield
    finally:
        thread.join()


def worker_env(index: int, n_jobs: int, cpus: int, gpus: int, base: Mapping[str, str]) -> dict[str, str]:
    """The environment of worker ``index``: its share of the CPU threads and of the GPUs.

    Workers go round-robin over the GPUs; several on one GPU split its memory
    (JAX would otherwise reserve 75% of it in the first process, TensorFlow all).
    """
    threads = max(1, cpus // n_jobs)
    env = {**base, "TF_NUM_INTRAOP_THREADS": str(threads), "TF_NUM_INTEROP_THREADS": "1",
           "OMP_NUM_THREADS": str(threads), "CNNSWEEP_WORKER_INDEX": str(index)}
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = str(index % gpus)
        sharing = math.ceil(n_jobs / gpus)
        if sharing > 1:
            env.setdefault("XLA_PYTHON_CLIENT_MEM_FRACTION", f"{0.9 / sharing:.2f}")
            env.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    return env


def _start_worker(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    # Its own session: a terminal's Ctrl-C reaches this process alone, which then
    # passes it on once, so each worker records its trial before it exits.
    return subprocess.Popen(command, env=env, start_new_session=True)


def _a_value_of(distribution: optuna.distributions.BaseDistribution) -> Any:
    if isinstance(distribution, optuna.distributions.CategoricalDistribution):
        return distribution.choices[0]
    return distribution.low


def _stop_workers(workers: list[subprocess.Popen], grace_s: float = 60.0) -> None:
    """After Ctrl-C: let each worker record its trial and exit; kill the ones that hang."""
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGINT)
    for worker in workers:
        try:
            worker.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def _fail_stale_trials(study: optuna.Study) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def _gpu_count() -> int:
    if (visible := os.environ.get("CUDA_VISIBLE_DEVICES")) is not None:
        return len([d for d in visible.split(",") if d.strip()])
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10)
            return len([line for line in out.stdout.splitlines() if line.startswith("GPU ")])
        except (OSError, subprocess.SubprocessError):
            return 0
    return 0

