"""The two loops of a sweep. A worker's (:func:`work`): ask the study for a trial, run its
job (which reports every epoch to the pruner), tell the study how it ended, until the
budget is spent or something says stop. The coordinator's (:func:`coordinate`): recover
what a killed sweep left running, run the worker loops where
:mod:`cnnsweep.sweep.workers.placement` says (here, or as worker processes or SLURM jobs),
print a line per finished trial, then confirm, ablate, refit and average, and write the
records and the report however it ends."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

import optuna

from cnnsweep import draw_helper, faults, run_files, scoring
from cnnsweep.errors import StopReason, SweepStopped
from cnnsweep.sweep import ablation, confirm, ensemble, progress
from cnnsweep.sweep.budget import search_deadline
from cnnsweep.sweep.launch import SweepTrialHooks
from cnnsweep.sweep.refit import refit
from cnnsweep.sweep.state import Sweep
from cnnsweep.sweep.study import lifecycle as studies
from cnnsweep.sweep.study import records, recovery
from cnnsweep.sweep.study.snapshot import Snapshot, StudyView
from cnnsweep.sweep.study.storage import heartbeat, mask_password
from cnnsweep.sweep.workers import placement

log = logging.getLogger("cnnsweep")


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
        # One read of the study answers this step's questions; whether an asked trial is
        # within the budget is read afresh below.
        seen = Snapshot(study)
        deadline = search_deadline(sweep)
        if deadline is not None and time.time() + studies.longest_first_epoch_seconds(seen) > deadline:
            log.info(
                "hydra.sweeper.timeout=%s: no time left for another trial%s",
                settings.timeout,
                " and the refit" if deadline != sweep.deadline else "",
            )
            break
        if parent_pid is not None and os.getppid() != parent_pid:
            log.warning("the sweep's main process is gone: this worker stops")
            break
        if sweep.storage.shared and recovery.recover_stale(study, sweep.storage):
            seen = Snapshot(study)
        budget = studies.budget_of(seen)
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
        if _stop_for_failures(sweep, seen):
            break
        if studies.stalled(seen, settings) is not None:  # the coordinator says why, once
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
        recovery.abandon(sweep.study, trial.number, f"interrupted ({signal_name}) before it finished")
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


def _stop_for_failures(sweep: Sweep, seen: StudyView | None = None) -> bool:
    reason = studies.too_many_failures(seen or sweep.study, sweep.settings.max_failure_rate)
    if reason is None:
        return False
    log.error("stopping: %s", reason)
    sweep.stopped_by.append(StopReason.TOO_MANY_FAILURES)
    return True


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
    recovery.recover_interrupted(study, sweep.storage, alive)
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
        draw_helper.wait_for_plots()
        if drawn := scoring.draw_missing_curves(settings.sweep_dir):
            log.info("drew %d curves plot(s) that ended workers left undrawn", len(drawn))
        progress.write_records(sweep)
        progress.write_report(sweep)
        sweep.tracker.finish(interrupted=bool(sweep.stopped_by))
    progress.summarise(sweep)
    if sweep.stopped_by:
        raise SweepStopped(sweep.stopped_by[0])


def _after_the_search(sweep: Sweep) -> None:
    """The confirmation of the best configurations, the ablation path to the chosen one, its
    refit, then the ensemble."""
    for step, name, asked in (
        (confirm.confirm, "the confirmation", sweep.settings.confirm.top_k > 0),
        (ablation.run, "the ablation", sweep.settings.ablation.seeds > 0),
        (refit, "the refit", sweep.settings.refit),
        (ensemble.run, "the ensemble", sweep.settings.ensemble > 1),
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
        recovery.abandon_trials_of_worker(study, worker, how)
        budget = studies.budget_of(study)
        return budget.done + budget.running < settings.n_trials + budget.waiting

    def on_tick() -> bool:
        shown.report_new()
        return _stop_for_failures(sweep)

    place.run(work=lambda: work(sweep, on_trial_done=shown.report), on_death=on_death, on_tick=on_tick)
    shown.report_new()
