"""Which kind of workers runs a sweep's loops: this process, local processes, or SLURM jobs.

``n_jobs=1`` runs the one worker loop in the sweep's own process (:class:`InThisProcess`,
data loaded once); ``n_jobs=N`` starts N local worker processes
(:mod:`cnnsweep.sweep.workers.local`); with ``hydra/launcher=submitit_slurm`` the workers
are SLURM jobs (:mod:`cnnsweep.sweep.workers.slurm`). This is the one place that decides,
above both kinds, which never import each other. The loops themselves are in
:mod:`cnnsweep.sweep.runner`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from cnnsweep.sweep.workers.env import WorkerEnv
from cnnsweep.sweep.workers.interrupts import StopRequest


class Placement(Protocol):
    """Where the worker loops of one machine run; ``run`` returns when they all ended."""

    def run(
        self, *, work: Callable[[], None], on_death: Callable[[Any, str], bool], on_tick: Callable[[], bool]
    ) -> None: ...


class InThisProcess:
    """The one worker loop runs in the sweep's own process (``n_jobs=1``)."""

    def run(
        self, *, work: Callable[[], None], on_death: Callable[[Any, str], bool], on_tick: Callable[[], bool]
    ) -> None:
        work()


def placement(
    n_jobs: int,
    argv: Sequence[str],
    sweep_dir: str,
    study_name: str,
    storage_url: str,
    stop_request: StopRequest,
    deadline: float | None = None,
    *,
    cluster: Mapping[str, Any] | None = None,
    wait: bool = True,
) -> Placement:
    """Where this sweep's worker loops run: here for one job, as local processes for several,
    as SLURM jobs when ``cluster`` holds the ``submitit_slurm`` launcher's settings."""
    if cluster is not None:
        from cnnsweep.sweep.workers.slurm import slurm_jobs

        # The URL reaches the jobs through a file only their owner reads, never in the job's pickle.
        return slurm_jobs(
            n_jobs,
            argv,
            Path(sweep_dir),
            study_name,
            storage_url,
            cluster,
            stop_request,
            WorkerEnv(deadline=deadline),
            wait,
        )
    if n_jobs == 1:
        return InThisProcess()
    from cnnsweep.sweep.workers.local import local_processes

    return local_processes(n_jobs, argv, sweep_dir, study_name, storage_url, stop_request, deadline)


def clean_up(sweep_dir: Path, cluster: Mapping[str, Any] | None) -> None:
    """Once every worker has ended: remove what only they needed (SLURM's storage URL file)."""
    if cluster is not None:
        from cnnsweep.sweep.workers.slurm import remove_storage_file

        remove_storage_file(sweep_dir)


def run_commands(
    commands: Sequence[list[str]],
    *,
    n_jobs: int,
    cluster: Mapping[str, Any] | None,
    folder: Path,
    name: str,
    stop_request: StopRequest,
    on_end: Callable[[int, str], None],
) -> None:
    """Run whole commands (single runs) where the sweep's workers run: ``n_jobs`` local
    processes at a time, each with its share of the CPUs, or SLURM jobs with the launcher's
    settings. ``on_end(index, error)`` is called as each ends (``error``: its last stderr line).

    Raises:
        KeyboardInterrupt: Ctrl-C; the running commands were asked to stop first.
    """
    if cluster is not None:
        from cnnsweep.sweep.workers.slurm_runs import run_commands_as_jobs

        run_commands_as_jobs(commands, cluster, str(folder), name, stop_request, on_end)
        return
    from cnnsweep.sweep.workers.local import run_commands_here

    run_commands_here(commands, n_jobs, stop_request, on_end)


def check_placement(n_jobs: int, cluster: Mapping[str, Any] | None) -> None:
    """Refuse, before anything starts, workers that cannot run where :func:`placement` puts
    them: a cluster that is not there, or more local processes than the memory holds.

    Raises:
        UserError: naming the problem and the fix.
    """
    if cluster is not None:
        from cnnsweep.sweep.workers.slurm import check_cluster

        check_cluster(cluster)
    elif n_jobs > 1:
        from cnnsweep.sweep.workers.local import check_worker_count
        from cnnsweep.validation import machine_memory_mb

        check_worker_count(n_jobs, machine_memory_mb())
