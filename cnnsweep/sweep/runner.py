"""Run an Optuna study where every trial is one Hydra job of cnnsweep.

    python -m cnnsweep --multirun +sweep=seed_cnn dataset=digits hydra.sweeper.n_trials=10

:func:`run_sweep` checks the settings once, then this process is either the sweep's
coordinator (:func:`run_coordinator`: the command the user typed) or one of its workers
(:func:`run_worker`: a process a coordinator started, here or as a SLURM job), as its
environment says (:class:`~cnnsweep.sweep.workers.env.WorkerEnv`). Their loops are in
:mod:`cnnsweep.sweep.loops`. Several machines pointed at one PostgreSQL URL are each a
coordinator of the same study.
"""

from __future__ import annotations

import gc
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import optuna
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from cnnsweep import draw_helper
from cnnsweep.errors import StopReason, SweepStopped
from cnnsweep.sweep.launch import TrialLauncher
from cnnsweep.sweep.lock import hold_sweep_dir
from cnnsweep.sweep.loops import coordinate, work
from cnnsweep.sweep.settings.check import check_settings
from cnnsweep.sweep.settings.frozen import SweepSettings
from cnnsweep.sweep.state import NoTracker, Sweep, training_deadline
from cnnsweep.sweep.study import algorithms
from cnnsweep.sweep.study import lifecycle as studies
from cnnsweep.sweep.study.storage import open_storage
from cnnsweep.sweep.workers import placement
from cnnsweep.sweep.workers.env import WorkerEnv
from cnnsweep.sweep.workers.interrupts import StopRequest

if TYPE_CHECKING:
    from cnnsweep.sweep.tracked import SweepTracker

# The report's figure modules, named, not imported: the sweep's process imports matplotlib only
# when its report is drawn.
REPORT_FIGURES = tuple(f"cnnsweep.report.figures.{name}" for name in ("trials", "parameters", "best_model"))


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
        if checked.report:  # the helper that draws the trials' curves draws half of the report too
            draw_helper.warm_up(REPORT_FIGURES)
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
        draw_helper.wait_for_plots()


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
    # What is loaded now (Keras, Optuna, Hydra, the data) lives as long as the sweep: out of
    # Python's cyclic collector, whose every full pass over it cost ~0.19 s (~0.08 s a digits trial).
    # A sweep's process is its own (the command, or the child cnnsweep.api starts), so nothing
    # of a caller's is kept from the collector.
    gc.freeze()


# ---------------------------------------------------------------- the worker's loop


# ---------------------------------------------------------------- the coordinator's loop
