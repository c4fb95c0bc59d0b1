"""A sweep's worker loops as processes on this machine (``hydra.sweeper.n_jobs > 1``).

N processes of the sweep's own command, each a worker on the shared study
(:class:`LocalProcesses`): each is told its share of the CPU threads, the GPUs
and the memory and the storage URL through :mod:`cnnsweep.sweep.workers.env`, and
is restarted when it dies. Which kind of workers a sweep gets is decided above,
in :mod:`cnnsweep.sweep.workers.placement`.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence

from cnnsweep import exits
from cnnsweep.sweep.workers.env import local_workers, worker_command
from cnnsweep.sweep.workers.interrupts import StopRequest

log = logging.getLogger("cnnsweep")

MAX_RESTARTS_PER_WORKER = 3
POLL_SECONDS = 1.0


class LocalProcesses:
    """N worker processes on this machine, supervised until they all end.

    Args:
        command: each worker's command line.
        envs: one environment per worker (:meth:`WorkerEnv.encode`).
        stop_request: the sweep's Ctrl-C; it is passed on once to every worker.
    """

    def __init__(self, command: list[str], envs: list[dict[str, str]], stop_request: StopRequest) -> None:
        self.command = command
        self.envs = envs
        self.stop_request = stop_request
        self.processes: list[subprocess.Popen] = []

    def run(
        self,
        *,
        work: Callable[[], None] | None = None,
        on_death: Callable[[int, str], bool],
        on_tick: Callable[[], bool],
    ) -> None:
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
                self.stop_request.check()
                for index, process in enumerate(self.processes):
                    code = process.poll()
                    if code in (None, 0, exits.INTERRUPTED) or process.pid in handled:
                        continue
                    handled.add(process.pid)
                    if code == exits.USER_ERROR:  # its one-line error is on stderr already
                        log.warning(
                            "worker process %d stopped on an input error (see its error above): "
                            "the sweep goes on with one worker fewer",
                            process.pid,
                        )
                        continue
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
        stop_processes(self.processes, grace_s)

    def _start(self, env: dict[str, str]) -> subprocess.Popen:
        # Its own session: a terminal's Ctrl-C reaches the coordinator alone, which
        # then passes it on once, so each worker records its trial before it exits.
        return subprocess.Popen(self.command, env=env, start_new_session=True)


WORKER_PROCESS_MB = 900  # one worker process (TensorFlow, Keras, the data), measured on digits


def stop_processes(processes: Sequence[subprocess.Popen], grace_s: float) -> None:
    """Ask each running process to stop as Ctrl-C does (SIGINT), so it records what it was
    doing; wait up to ``grace_s`` for each; kill the ones that hang."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    for process in processes:
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
            f"hydra.sweeper.n_jobs={fits} or less.",
            key="hydra.sweeper.n_jobs",
        )


def local_processes(
    n_jobs: int,
    argv: Sequence[str],
    sweep_dir: str,
    study_name: str,
    storage_url: str,
    stop_request: StopRequest,
    deadline: float | None = None,
) -> LocalProcesses:
    """``n_jobs`` worker processes of this command, sharing this machine's CPUs, GPUs and
    memory (each model's memory limit is its share of ``trainer.memory_limit_mb``'s default)."""
    told = local_workers(n_jobs, os.cpu_count() or 1, gpu_count(), storage_url, deadline)
    return LocalProcesses(
        worker_command(argv, sweep_dir, study_name),
        [worker.encode(os.environ) for worker in told],
        stop_request,
    )


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


def run_commands_here(
    commands: Sequence[list[str]], n_jobs: int, stop_request: StopRequest, on_end: Callable[[int, str], None]
) -> None:
    """``commands`` as local processes, ``n_jobs`` at a time, each with its share of the CPU
    threads; ``on_end(index, last stderr line)`` as each ends.

    Raises:
        KeyboardInterrupt: Ctrl-C; each running command got a SIGINT (and a minute) first.
    """
    shares = [w.encode(os.environ) for w in local_workers(n_jobs, os.cpu_count() or 1, gpu_count(), "", None)]
    waiting = list(enumerate(commands))
    running: dict[int, tuple[int, subprocess.Popen]] = {}  # slot -> (command index, its process)
    try:
        while waiting or running:
            for slot in range(n_jobs):
                if slot not in running and waiting:
                    index, command = waiting.pop(0)
                    running[slot] = (
                        index,
                        subprocess.Popen(
                            command,
                            env=shares[slot],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE,
                            text=True,
                            start_new_session=True,
                        ),
                    )
            time.sleep(POLL_SECONDS / 2)
            stop_request.check()
            for slot, (index, process) in list(running.items()):
                if process.poll() is not None:
                    del running[slot]
                    _, stderr = process.communicate()
                    last = (stderr.strip().splitlines() or [f"exit status {process.returncode}"])[-1]
                    on_end(index, last[:300])
    except KeyboardInterrupt:
        stop_processes([process for _, process in running.values()], grace_s=60.0)
        raise
