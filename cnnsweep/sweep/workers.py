"""Where a sweep's worker loops run, and how they are stopped.

``n_jobs=1`` runs the one worker loop in the sweep's own process
(:class:`InThisProcess`, data loaded once). ``n_jobs=N`` starts N local
processes of the same command, each a worker on the shared study
(:class:`LocalProcesses`): each gets its share of the CPU threads and of the
GPUs, receives the storage URL by environment, and is restarted when it dies.
:func:`placement` is the one place that decides; the loops themselves are in
:mod:`cnnsweep.sweep.runner`.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from cnnsweep import exits
from cnnsweep.sweep.storage import STORAGE_ENV

log = logging.getLogger("cnnsweep")

MAX_RESTARTS_PER_WORKER = 3
DEADLINE_ENV = "CNNSWEEP_DEADLINE"  # a worker's training deadline (time.time()), from its coordinator
WORKER_ID_ENV = "CNNSWEEP_WORKER_ID"  # a SLURM job's worker: "slurm-<job id>", recorded on its trials
POLL_SECONDS = 1.0


class CtrlC:
    """The first Ctrl-C asks the sweep to stop at the next batch; the second stops it at once.

    SIGUSR2, SLURM's warning before a job's time limit, asks like a first Ctrl-C,
    so a worker job records its trial before the scheduler kills it.

    Python's own handler raises KeyboardInterrupt wherever the interpreter is,
    including inside finalizers that swallow it; the sweep stops only where
    :meth:`check` is called (and a trial's hooks ask), so the running trial is
    always recorded.
    """

    def __init__(self) -> None:
        self.requested = threading.Event()

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def on_sigint(signum: int, frame: Any) -> None:
            if self.requested.is_set():
                signal.default_int_handler(signum, frame)
            self.requested.set()
            log.warning("Ctrl-C: stopping at the next batch (press again to stop at once)")

        def on_sigusr2(signum: int, frame: Any) -> None:
            self.requested.set()
            log.warning("SIGUSR2 (the job's time limit is near): stopping at the next batch")

        signal.signal(signal.SIGINT, on_sigint)
        signal.signal(signal.SIGUSR2, on_sigusr2)

    def check(self) -> None:
        """Raise KeyboardInterrupt here, at a safe point, if Ctrl-C asked to stop."""
        if self.requested.is_set():
            raise KeyboardInterrupt


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
        sharing = len(range(index % gpus, n_jobs, gpus))  # the workers on this worker's GPU
        if sharing > 1:
            env.setdefault("XLA_PYTHON_CLIENT_MEM_FRACTION", f"{0.9 / sharing:.2f}")
            env.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    return env


def worker_command(argv: Sequence[str], sweep_dir: str, study_name: str) -> list[str]:
    """The command of a worker process: the sweep's own, told to be one worker of its study.

    The storage URL (it may hold a password) goes by environment, not on the
    command line, where any user of the machine could read it.
    """
    replaced = ("hydra.sweep.dir=", "hydra.sweeper.storage=", "hydra.sweeper.study_name=",
                "hydra.sweeper.n_jobs=", "hydra.sweeper.role=", "hydra/launcher=", "hydra.launcher.",
                "hydra.sweeper.wait=")
    args = [a for a in argv if not a.lstrip("+~").startswith(replaced)]
    return [sys.executable, "-m", "cnnsweep", *args,
            f"hydra.sweep.dir={sweep_dir}",
            f"hydra.sweeper.storage=${{oc.env:{STORAGE_ENV}}}",
            f"hydra.sweeper.study_name={study_name}",
            "hydra.sweeper.n_jobs=1", "hydra.sweeper.role=worker"]


def worker_id() -> int | str:
    """How this worker marks its trials: its SLURM job (``slurm-<id>``) or its process id."""
    return os.environ.get(WORKER_ID_ENV) or os.getpid()


def coordinator_gone(parent_pid: int) -> bool:
    """True when a worker's coordinator process has ended (the worker then stops)."""
    return os.getppid() != parent_pid


class Placement(Protocol):
    """Where the worker loops of one machine run; ``run`` returns when they all ended."""

    def run(self, *, work: Callable[[], None], on_death: Callable[[Any, str], bool],
            on_tick: Callable[[], bool]) -> None: ...


class InThisProcess:
    """The one worker loop runs in the sweep's own process (``n_jobs=1``)."""

    def run(self, *, work: Callable[[], None], on_death: Callable[[Any, str], bool],
            on_tick: Callable[[], bool]) -> None:
        work()


def placement(n_jobs: int, argv: Sequence[str], sweep_dir: str, study_name: str,
              storage_url: str, ctrl_c: CtrlC, deadline: float | None = None, *,
              cluster: Mapping[str, Any] | None = None, wait: bool = True) -> Placement:
    """Where this sweep's worker loops run: here for one job, as local processes for several,
    as SLURM jobs when ``cluster`` holds the ``submitit_slurm`` launcher's settings."""
    if cluster is not None:
        from pathlib import Path

        from cnnsweep.sweep.slurm import slurm_jobs

        env = {DEADLINE_ENV: repr(deadline)} if deadline else {}
        return slurm_jobs(n_jobs, argv, Path(sweep_dir), study_name, storage_url, cluster, ctrl_c,
                          env, wait)
    if n_jobs == 1:
        return InThisProcess()
    return local_processes(n_jobs, argv, sweep_dir, study_name, storage_url, ctrl_c, deadline)


class LocalProcesses:
    """N worker processes on this machine, supervised until they all end.

    Args:
        command: each worker's command line.
        envs: one environment per worker (see :func:`worker_env`).
        ctrl_c: the sweep's Ctrl-C; it is passed on once to every worker.
    """

    def __init__(self, command: list[str], envs: list[dict[str, str]], ctrl_c: CtrlC) -> None:
        self.command = command
        self.envs = envs
        self.ctrl_c = ctrl_c
        self.processes: list[subprocess.Popen] = []

    def run(self, *, work: Callable[[], None] | None = None, on_death: Callable[[int, str], bool],
            on_tick: Callable[[], bool]) -> None:
        """Start the workers and watch them until every one has ended.

        Args:
            work: unused: the loops run in the worker processes.
            on_death: called as ``on_death(pid, how)`` when a worker dies of a
                crash; returns whether to start a new one in its place.
            on_tick: called about once a second; returning True asks every
                worker to stop after its trial.

        Raises:
            KeyboardInterrupt: Ctrl-C; the workers were stopped first.
        """
        self.processes = [self._start(env) for env in self.envs]
        handled: set[int] = set()
        restarts = 0
        try:
            while any(p.poll() is None for p in self.processes):
                time.sleep(POLL_SECONDS)
                self.ctrl_c.check()
                for index, process in enumerate(self.processes):
                    code = process.poll()
                    if code in (None, 0, exits.USER_ERROR, exits.INTERRUPTED) or process.pid in handled:
                        continue
                    handled.add(process.pid)
                    how = f"signal {-code}" if code < 0 else f"exit status {code}"
                    log.warning("worker process %d died (%s)", process.pid, how)
                    if on_death(process.pid, how) and restarts < MAX_RESTARTS_PER_WORKER * len(self.envs):
                        restarts += 1
                        self.processes[index] = self._start(self.envs[index])
                        log.warning("worker %d restarted (pid %d)", index, self.processes[index].pid)
                if on_tick():
                    for process in self.processes:
                        process.send_signal(signal.SIGINT)
                    break
            for process in self.processes:
                process.wait()
        except KeyboardInterrupt:
            self.stop()
            raise

    def stop(self, grace_s: float = 60.0) -> None:
        """After Ctrl-C: let each worker record its trial and exit; kill the ones that hang."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self.processes:
            try:
                process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _start(self, env: dict[str, str]) -> subprocess.Popen:
        # Its own session: a terminal's Ctrl-C reaches the coordinator alone, which
        # then passes it on once, so each worker records its trial before it exits.
        return subprocess.Popen(self.command, env=env, start_new_session=True)


WORKER_PROCESS_MB = 900  # one worker process (TensorFlow, Keras, the data), measured on digits


def check_placement(n_jobs: int, cluster: Mapping[str, Any] | None) -> None:
    """Refuse, before anything starts, workers that cannot run where :func:`placement` puts
    them: a cluster that is not there, or more local processes than the memory holds.

    Raises:
        UserError: naming the problem and the fix.
    """
    if cluster is not None:
        from cnnsweep.sweep.slurm import check_cluster

        check_cluster(cluster)
    elif n_jobs > 1:
        from cnnsweep.validation import machine_memory_mb

        check_worker_count(n_jobs, machine_memory_mb())


def check_worker_count(n_jobs: int, machine_mb: int) -> None:
    """Refuse more worker processes than this machine's memory holds, before any starts.

    Raises:
        ConfigError: naming the numbers and a workable ``n_jobs``.
    """
    from cnnsweep.errors import ConfigError

    usable = int(machine_mb * 0.8)  # the system and the coordinator keep the rest
    if n_jobs * WORKER_PROCESS_MB > usable:
        fits = max(1, usable // WORKER_PROCESS_MB)
        raise ConfigError(
            f"hydra.sweeper.n_jobs={n_jobs} would start {n_jobs} worker processes of about "
            f"{WORKER_PROCESS_MB} MB each ({n_jobs * WORKER_PROCESS_MB / 1024:.1f} GB before any "
            f"model) on a machine with {machine_mb / 1024:.1f} GB of RAM. Use "
            f"hydra.sweeper.n_jobs={fits} or less.", key="hydra.sweeper.n_jobs")


def local_processes(n_jobs: int, argv: Sequence[str], sweep_dir: str, study_name: str,
                    storage_url: str, ctrl_c: CtrlC, deadline: float | None = None) -> LocalProcesses:
    """``n_jobs`` worker processes of this command, sharing this machine's CPUs, GPUs and
    memory (each model's memory limit is its share of ``trainer.memory_limit_mb``'s default)."""
    from cnnsweep.validation import WORKERS_ENV

    gpus = gpu_count()
    shared = {STORAGE_ENV: storage_url, WORKERS_ENV: str(n_jobs),
              **({DEADLINE_ENV: repr(deadline)} if deadline else {})}
    envs = [{**worker_env(index, n_jobs, os.cpu_count() or 1, gpus, os.environ), **shared}
            for index in range(n_jobs)]
    return LocalProcesses(worker_command(argv, sweep_dir, study_name), envs, ctrl_c)


def gpu_count() -> int:
    if (visible := os.environ.get("CUDA_VISIBLE_DEVICES")) is not None:
        return len([d for d in visible.split(",") if d.strip()])
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10)
            return len([line for line in out.stdout.splitlines() if line.startswith("GPU ")])
        except (OSError, subprocess.SubprocessError):
            return 0
    return 0
