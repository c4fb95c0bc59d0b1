"""Run an Optuna study where every trial is one Hydra job of cnnsweep.

    python -m cnnsweep --multirun +sweep=seed_cnn dataset=digits hydra.sweeper.n_trials=10

A worker loops: ask the study for a trial, run its job (which reports every
epoch to the pruner), tell the study how it ended (:func:`work`). The
coordinator (:func:`coordinate`) recovers what a killed sweep left running, runs
the worker loops where :mod:`cnnsweep.sweep.workers.placement` says (here, or as worker
processes), prints one line per finished trial, writes ``trials.csv``,
``optimization_results.yaml`` and the report, and raises :class:`SweepStopped`
when it ended early. Several machines pointed at one PostgreSQL URL cooperate
the same way.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import optuna
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from cnnsweep import curves, faults, run_files
from cnnsweep.errors import StopReason, SweepStopped
from cnnsweep.sweep import ablation, confirm, progress
from cnnsweep.sweep.budget import search_deadline
from cnnsweep.sweep.launch import SweepTrialHooks, TrialLauncher
from cnnsweep.sweep.lock import hold_sweep_dir
from cnnsweep.sweep.refit import refit
from cnnsweep.sweep.settings.check import check_settings
from cnnsweep.sweep.settings.frozen import SweepSettings
from cnnsweep.sweep.state import NoTracker, Sweep, training_deadline
from cnnsweep.sweep.study import algorithms, records
from cnnsweep.sweep.study import lifecycle as studies
from cnnsweep.sweep.study.storage import heartbeat, mask_password, open_storage
from cnnsweep.sweep.workers import placement
from cnnsweep.sweep.workers.env import WorkerEnv
from cnnsweep.sweep.workers.interrupts import StopRequest

if TYPE_CHECKING:
    from cnnsweep.sweep.tracked import SweepTracker

log = logging.getLogger("cnnsweep")


def run_sweep(
    settings: Mapping[str, Any],
    arguments: Sequence[str],
    *,
    hydra_context: HydraContext,
    task_function: TaskFunction,
    config: DictConfig,
) -> None:
    """The sweep of ``python -m cnnsweep --multirun``: check, then coordinate it, or be one of
    its workers when this process's environment says so (:class:`WorkerEnv`).

    Raises:
        UserError: a bad setting, data that cannot be loaded, a storage that cannot be
            opened; raised before the study is touched.
        SweepStopped: the sweep ended early (Ctrl-C, too many failures); its results
            so far are written.
    """
    started = time.time()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.raiseExceptions = False  # a full disk must not print a traceback per log line
    stop_request = StopRequest()
    stop_request.install()
    checked = check_settings(settings, config, arguments)
    # Hydra's launcher is made where the study is touched: after the placement and the data are checked.
    launcher = partial(
        TrialLauncher, checked, hydra_context=hydra_context, task_function=task_function, config=config
    )
    told = WorkerEnv.decode(os.environ)
    if told.is_worker:
        run_worker(checked, told, launcher, stop_request)
    else:
        run_coordinator(checked, launcher, stop_request, started)


def run_coordinator(
    checked: SweepSettings, launcher: Callable[[], TrialLauncher], stop_request: StopRequest, started: float
) -> None:
    """The sweep's own process: one per sweep dir (a second command stops at the lock)."""
    held = hold_sweep_dir(checked.sweep_dir)
    try:
        placement.check_placement(checked.n_jobs, checked.cluster)
        sampler = algorithms.make_sampler(checked, worker_index=None)
        pruner = algorithms.make_pruner(checked)
        opened = open_storage(
            checked.storage,
            checked.sweep_dir,
            several_writers=checked.several_writers,
            heartbeat=checked.heartbeat,
        )
        _warm_up(checked, trains_here=not checked.several_writers)
        # Only now, with the config and the data checked, is the study touched.
        sweep = Sweep(
            settings=checked,
            study=studies.open_study(checked, opened, sampler, pruner),
            storage=opened,
            launcher=launcher(),
            stop_request=stop_request,
            constrained=type(sampler).__name__ in algorithms.CONSTRAINED_SAMPLERS,
            deadline=training_deadline(checked, started),
        )
        sweep.tracker = open_tracker(checked, sweep.study)
        coordinate(sweep)
    finally:
        held.release()


def run_worker(
    checked: SweepSettings, told: WorkerEnv, launcher: Callable[[], TrialLauncher], stop_request: StopRequest
) -> None:
    """A worker process of a coordinator (here, or as a SLURM job): trials until the budget is
    spent; the coordinator writes the records."""
    sampler = algorithms.make_sampler(checked, worker_index=told.index)
    pruner = algorithms.make_pruner(checked)
    opened = open_storage(
        told.storage_url, checked.sweep_dir, several_writers=True, heartbeat=checked.heartbeat
    )
    _warm_up(checked, trains_here=True)
    sweep = Sweep(
        settings=checked,
        study=studies.load_study(checked, opened, sampler, pruner),
        storage=opened,
        launcher=launcher(),
        stop_request=stop_request,
        constrained=type(sampler).__name__ in algorithms.CONSTRAINED_SAMPLERS,
        told=told,
        deadline=told.deadline,
    )
    sweep.tracker = open_tracker(checked, sweep.study)
    try:  # a SLURM job's worker has no coordinator process to watch
        work(sweep, parent_pid=os.getppid() if told.watches_its_parent else None, marks_trials=True)
    except KeyboardInterrupt:
        raise SweepStopped(StopReason.INTERRUPTED) from None
    finally:
        curves.wait_for_plots()


def open_tracker(settings: SweepSettings, study: optuna.Study) -> SweepTracker | NoTracker:
    """``tracking=mlflow``: this process's line to the tracker; else one that does nothing."""
    if settings.tracking is None:
        return NoTracker()
    from cnnsweep.sweep.tracked import SweepTracker

    return SweepTracker(settings, study)


def _warm_up(settings: SweepSettings, trains_here: bool) -> None:
    """Import Keras and load the dataset once, before the first trial.

    Trials then pay for training only, and missing or corrupt data stops the
    sweep with one message instead of failing every trial.
    """
    from cnnsweep.backend import import_keras, select_backend
    from cnnsweep.data.loader import load_dataset

    if not settings.searches_dataset:
        data = settings.run.data
        load_dataset(
            str(data["name"]), data["path"], train_limit=data["train_limit"], test_limit=data["test_limit"]
        )
    if trains_here:  # a coordinator of worker processes only watches
        select_backend(settings.run.backend)
        import_keras()


# ---------------------------------------------------------------- the worker's loop
def work(
    sweep: Sweep,
    *,
    parent_pid: int | None = None,
    marks_trials: bool = False,
    on_trial_done: Callable[[int], None] | None = None,
) -> None:
    """Ask, run and tell trials until the budget is spent or something says stop.

    Args:
        sweep: the sweep to work on.
        parent_pid: set in a worker process: stop when this coordinator is gone.
        marks_trials: a worker process: record who runs each trial, so that the
            coordinator can recover it if this worker dies.
        on_trial_done: called with each trial's number once it was told.
    """
    settings, study = sweep.settings, sweep.study
    studies.enter_optimize_loop(study)
    waiting_for_others = False
    while True:
        sweep.stop_request.check()
        if studies.sampler_stopped(study):
            log.info("the sampler has no new points to try (the grid is exhausted)")
            break
        deadline = search_deadline(sweep)
        if deadline is not None and time.time() + studies.typical_first_epoch_seconds(study) > deadline:
            log.info(
                "hydra.sweeper.timeout=%s: no time left for another trial%s",
                settings.timeout,
                " and the refit" if deadline != sweep.deadline else "",
            )
            break
        if parent_pid is not None and os.getppid() != parent_pid:
            log.warning("the sweep's main process is gone: this worker stops")
            break
        if sweep.storage.shared:
            studies.recover_stale(study, sweep.storage)
        budget = studies.budget_of(study)
        if budget.done + budget.running >= settings.n_trials and budget.waiting == 0:
            if not (sweep.storage.shared and budget.running and budget.done < settings.n_trials):
                break
            # The rest of the budget runs on other machines. One that dies leaves its trial
            # to whoever is still here once its heartbeat lapses: stay until they end.
            if not waiting_for_others:
                log.info(
                    "waiting for %d trial(s) running elsewhere: one whose machine stops sending "
                    "heartbeats is run again here",
                    budget.running,
                )
            waiting_for_others = True
            time.sleep(min(5.0, float(settings.heartbeat.interval)))
            continue
        waiting_for_others = False
        if _stop_for_failures(sweep):
            break
        if studies.stalled(study, settings) is not None:  # the coordinator says why, once
            break
        faults.point("ask")
        trial = study.ask(settings.space.distributions)
        if not studies.within_budget(study, trial, settings.n_trials):
            studies.step_back(study, trial)  # another worker took the last trial at the same moment
            continue
        # Beating from the trial's first moment: another machine waits for a running trial
        # until its heartbeat lapses, and one that never beat would never lapse.
        with heartbeat(study, trial):
            if sweep.storage.shared:  # it beats now; one that never did is found by its age
                trial.set_user_attr(records.BEATING_ATTR, True)
            if marks_trials:  # lets the coordinator recover the trial if this worker dies
                trial.set_user_attr(records.WORKER_ATTR, sweep.told.marks_trials_as)
            _run_trial(sweep, trial, deadline)
        faults.point("between")
        if on_trial_done is not None:
            on_trial_done(trial.number)


def _run_trial(sweep: Sweep, trial: optuna.trial.Trial, deadline: float | None) -> None:
    """Run one trial and tell the study how it ended; only Ctrl-C gets out of here."""
    tracked = sweep.tracker.trial_started(trial)
    try:
        hooks = SweepTrialHooks(
            trial,
            sweep.stop_request.requested,
            deadline,
            sweep.settings.fidelity,
            memory_share=sweep.told.workers_here,
            epoch_logs=tracked.log_epoch if tracked is not None else None,
        )
        metrics = sweep.launcher.run(trial, hooks)
    except OSError as exc:  # Hydra could not write the job's folder (disk full?)
        reason = run_files.write_error_message(exc, sweep.settings.sweep_dir / str(trial.number))
        log.error("trial %d could not start: %s", trial.number, reason)
        metrics = run_files.failed_metrics(reason)
    except Exception as exc:  # the job could not even start: record it, keep sweeping
        log.exception("trial %d could not run", trial.number)
        metrics = run_files.failed_metrics(f"{type(exc).__name__}: {exc}")
    except KeyboardInterrupt:
        signal_name = "SIGTERM" if sweep.stop_request.reason is StopReason.TERMINATED else "Ctrl-C"
        studies.abandon(sweep.study, trial.number, f"interrupted ({signal_name}) before it finished")
        sweep.tracker.trial_interrupted(tracked)
        raise
    faults.point("tell")
    try:
        studies.tell(sweep.study, trial, metrics, sweep.settings.objectives, sweep.constrained)
    except optuna.exceptions.UpdateFinishedTrialError:
        # Another machine found no heartbeat of this one for the grace period (a stalled
        # network or host) and failed the trial; its retry is queued there.
        log.warning(
            "trial %d was failed by another machine while it ran here: its heartbeat lapsed "
            "(raise hydra.sweeper.heartbeat.grace_period if this machine is only slow). Its "
            "result stays in %s only; the trial runs again.",
            trial.number,
            sweep.settings.sweep_dir / str(trial.number),
        )
        return
    # After the study: the tracker is never the truth.
    sweep.tracker.trial_ended(tracked, trial.number, metrics)


def _stop_for_failures(sweep: Sweep) -> bool:
    reason = studies.too_many_failures(sweep.study, sweep.settings.max_failure_rate)
    if reason is None:
        return False
    log.error("stopping: %s", reason)
    sweep.stopped_by.append(StopReason.TOO_MANY_FAILURES)
    return True


# ---------------------------------------------------------------- the coordinator's loop
def coordinate(sweep: Sweep) -> None:
    """Run the sweep to its budget, writing its records and report however it ends.

    Raises:
        SweepStopped: Ctrl-C, or more than ``max_failure_rate`` of the trials failed.
    """
    settings, study = sweep.settings, sweep.study
    alive: Callable[[Any], bool] | None = None
    if settings.cluster is not None:
        from cnnsweep.sweep.workers.slurm import job_alive

        alive = job_alive
    studies.recover_interrupted(study, sweep.storage, alive)
    shown = progress.Progress(sweep)
    sweep.tracker.open_parent()
    log.info(
        "sweep %s: %d trials in %s (%d already done), %d at a time; storage %s",
        study.study_name,
        settings.n_trials,
        settings.sweep_dir,
        shown.done_at_start,
        settings.n_jobs,
        mask_password(sweep.storage.url),
    )
    if settings.cluster is not None and not settings.wait:
        _run_worker_loops(sweep, shown)  # submits the jobs and returns
        log.info(
            "the jobs run on without this command. Follow them with squeue --me and %s/.submitit/; "
            "when they have ended, run the same command without hydra.sweeper.wait=false to "
            "write trials.csv and report.html (or python -m cnnsweep.report %s)",
            settings.sweep_dir,
            settings.sweep_dir,
        )
        return
    try:
        _run_worker_loops(sweep, shown)
    except KeyboardInterrupt:
        sweep.stopped_by.append(sweep.stop_request.reason)
        log.warning(
            "%s: finished trials are kept; run the same command again (same hydra.sweep.dir) to resume",
            sweep.stop_request.reason,
        )
    else:
        if (stalled := studies.stalled(study, settings)) is not None:
            log.info("the study stopped improving: %s", stalled)
        _after_the_search(sweep)
    finally:
        placement.clean_up(settings.sweep_dir, settings.cluster)  # every worker has ended
        curves.wait_for_plots()
        progress.write_records(sweep)
        progress.write_report(sweep)
        sweep.tracker.finish(interrupted=bool(sweep.stopped_by))
    progress.summarise(sweep)
    if sweep.stopped_by:
        raise SweepStopped(sweep.stopped_by[0])


def _after_the_search(sweep: Sweep) -> None:
    """The confirmation of the best configurations, the ablation path to the chosen one, then
    its refit."""
    for step, name, asked in (
        (confirm.confirm, "the confirmation", sweep.settings.confirm.top_k > 0),
        (ablation.run, "the ablation", sweep.settings.ablation.seeds > 0),
        (refit, "the refit", sweep.settings.refit),
    ):
        if not asked or sweep.stopped_by:
            continue
        try:
            step(sweep)
        except KeyboardInterrupt:
            sweep.stopped_by.append(sweep.stop_request.reason)
            log.warning(
                "interrupted during %s: the results so far are kept; the same command finishes it", name
            )


def _run_worker_loops(sweep: Sweep, shown: progress.Progress) -> None:
    """The worker loops, where :func:`placement.placement` puts them; progress as trials end."""
    settings, study = sweep.settings, sweep.study
    budget = studies.budget_of(study)
    if budget.done >= settings.n_trials and budget.waiting == 0 and settings.several_writers:
        return  # nothing left to do: no worker processes or jobs to start
    place = placement.placement(
        settings.n_jobs,
        settings.command,
        str(settings.sweep_dir),
        study.study_name,
        sweep.storage.url,
        sweep.stop_request,
        sweep.deadline,
        cluster=settings.cluster,
        wait=settings.wait,
    )

    def on_death(worker: int | str, how: str) -> bool:
        studies.abandon_trials_of_worker(study, worker, how)
        budget = studies.budget_of(study)
        return budget.done + budget.running < settings.n_trials + budget.waiting

    def on_tick() -> bool:
        shown.report_new()
        return _stop_for_failures(sweep)

    place.run(work=lambda: work(sweep, on_trial_done=shown.report), on_death=on_death, on_tick=on_tick)
    shown.report_new()
