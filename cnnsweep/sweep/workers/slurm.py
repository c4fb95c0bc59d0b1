"""Sweep workers as SLURM jobs, with Hydra's ``submitit_slurm`` launcher settings.

    python -m cnnsweep --multirun +sweep=deep_cnn hydra/launcher=submitit_slurm hydra.sweeper.n_jobs=8

Each of the ``n_jobs`` jobs runs one worker loop of the sweep's own command
(:func:`run_worker`): it asks the shared study for trials until the budget is
spent, reports every epoch to the pruner, and writes its trial dirs into the
sweep dir, as a local worker does. The storage URL reaches a job through a file
only its owner can read, never through its command line or the job record.
:class:`SlurmJobs` submits the jobs and watches them with ``squeue``; a job that
ends without its worker's own exit (``scancel``, a time limit, a node failure)
has its trial failed and queued again, and another job takes its place.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cnnsweep import exits
from cnnsweep.errors import ConfigError, UserError
from cnnsweep.sweep.workers.env import WorkerEnv, worker_command

log = logging.getLogger("cnnsweep")

STORAGE_FILE = ".storage-url"  # in the sweep dir, mode 0600: how a job learns the storage URL
POLL_SECONDS = 2.0
MAX_REPLACEMENTS_PER_JOB = 3
# Launcher keys submitit's AutoExecutor takes as they are; the others are SLURM's (slurm_*).
SHARED_KEYS = {
    "timeout_min",
    "cpus_per_task",
    "gpus_per_node",
    "tasks_per_node",
    "mem_gb",
    "nodes",
    "name",
    "stderr_to_stdout",
}
# Not passed on: a worker is no checkpointable function, so a job at its time limit
# is not requeued (max_num_timeout): its worker records its trial, and another job takes over.
NOT_PARAMETERS = {"_target_", "submitit_folder", "max_num_timeout", "python"}


def check_cluster(launcher: Mapping[str, Any]) -> None:
    """Refuse, before anything is submitted, a machine without SLURM or an unknown partition.

    Raises:
        UserError: no ``sbatch``/``squeue`` here, or no such partition (the known ones named).
    """
    missing = [tool for tool in ("sbatch", "squeue", "scancel") if shutil.which(tool) is None]
    if missing:
        raise UserError(
            f"hydra/launcher=submitit_slurm needs SLURM's {', '.join(missing)} on this "
            "machine, which has none: run the command on a login node of the cluster, "
            "or drop hydra/launcher to run the workers here.",
            key="hydra.launcher",
        )
    try:
        import submitit  # noqa: F401
    except ImportError:
        raise UserError(
            "hydra/launcher=submitit_slurm needs submitit: pip install 'cnnsweep[slurm]'.",
            key="hydra.launcher",
        ) from None
    partition = launcher.get("partition")
    if partition:
        known = _partitions()
        if known is not None and str(partition) not in known:
            raise ConfigError(
                f"hydra.launcher.partition={partition}: SLURM has no such partition "
                f"(it has {', '.join(sorted(known)) or 'none'}). Name one of them, or "
                "leave it out for the default.",
                key="hydra.launcher.partition",
            )


def _partitions() -> set[str] | None:
    """The cluster's partition names (``sinfo``), or None when SLURM cannot say."""
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%R"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        raise UserError(
            f"SLURM does not answer (sinfo: {out.stderr.strip()[:200]}). Check that "
            "slurmctld runs and SLURM_CONF points at its slurm.conf.",
            key="hydra.launcher",
        )
    return {line.strip() for line in out.stdout.splitlines() if line.strip()}


def executor_parameters(launcher: Mapping[str, Any], job_name: str) -> dict[str, Any]:
    """``hydra.launcher.*`` as submitit's AutoExecutor takes them: one worker per job."""
    parameters: dict[str, Any] = {}
    for key, value in launcher.items():
        if key in NOT_PARAMETERS or value is None:
            continue
        parameters[key if key in SHARED_KEYS else f"slurm_{key}"] = value
    parameters.update(tasks_per_node=1, nodes=1, name=job_name)
    if not parameters.get("slurm_additional_parameters"):
        parameters.pop("slurm_additional_parameters", None)
    return parameters


def write_storage_file(sweep_dir: Path, url: str) -> Path:
    """The storage URL in a file only its owner can read, for the jobs to pick up; removed
    when the sweep's jobs have ended (:func:`remove_storage_file`)."""
    sweep_dir.mkdir(parents=True, exist_ok=True)
    target = sweep_dir / STORAGE_FILE
    target.unlink(missing_ok=True)  # an older file, or a link planted there: never written through
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(url)
    return target


def remove_storage_file(sweep_dir: Path) -> None:
    """The storage URL's file gone, once no job of the sweep is left to read it."""
    (sweep_dir / STORAGE_FILE).unlink(missing_ok=True)


def run_worker(command: list[str], storage_file: str, told: WorkerEnv) -> int:
    """What a job runs: one worker process of the sweep, told what its coordinator said
    (``told``: the deadline), the storage URL from ``storage_file``, its job and its CPUs.

    SLURM's ``scancel --signal=INT`` reaches the worker, which records its trial and
    exits; this wrapper ignores it and waits, so the worker is never killed mid-write.
    Returns the worker's exit status.
    """
    job = os.environ.get("SLURM_JOB_ID", str(os.getpid()))
    cpus = int(os.environ.get("SLURM_CPUS_PER_TASK") or os.cpu_count() or 1)
    told = told.replace(storage_url=Path(storage_file).read_text(), worker_id=f"slurm-{job}", threads=cpus)
    process = subprocess.Popen(command, env=told.encode(os.environ))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return process.wait()


class SlurmJobs:
    """``n_jobs`` SLURM jobs, each one worker, watched until they all end.

    Args:
        command: each worker's command line (no storage URL in it).
        storage_file: the 0600 file holding the storage URL.
        told: what every worker is told (the sweep's deadline; never the storage URL).
        parameters: submitit's executor parameters (see :func:`executor_parameters`).
        folder: submitit's folder for job scripts and logs (``%j`` is the job id).
        n_jobs: how many jobs to keep running.
        stop_request: the sweep's Ctrl-C.
        wait: False submits the jobs and returns at once.
    """

    def __init__(
        self,
        *,
        command: list[str],
        storage_file: Path,
        told: WorkerEnv,
        parameters: dict[str, Any],
        folder: str,
        n_jobs: int,
        stop_request: Any,
        wait: bool = True,
    ) -> None:
        self.command = command
        self.storage_file = storage_file
        self.told = told
        self.parameters = parameters
        self.folder = folder
        self.n_jobs = n_jobs
        self.stop_request = stop_request
        self.wait = wait
        self.jobs: dict[str, Any] = {}  # job id -> submitit job, while in the queue

    def run(
        self,
        *,
        work: Callable[[], None] | None = None,
        on_death: Callable[[str, str], bool],
        on_tick: Callable[[], bool],
    ) -> None:
        """Submit the jobs, then (``wait``) watch them until every one has ended.

        Args:
            work: unused: the loops run in the jobs.
            on_death: ``on_death(worker_id, how)`` for a job the scheduler ended;
                returns whether to submit another in its place.
            on_tick: called every poll; True asks every job to stop after its trial.

        Raises:
            KeyboardInterrupt: Ctrl-C; the jobs were stopped (and cancelled) first.
        """
        import submitit

        executor = submitit.AutoExecutor(folder=self.folder, cluster="slurm", slurm_max_num_timeout=0)
        executor.update_parameters(**self.parameters)

        def submit() -> Any:
            return executor.submit(run_worker, self.command, str(self.storage_file), self.told)

        try:
            for _ in range(self.n_jobs):
                self._add(submit())
            log.info(
                "submitted %d SLURM job%s: %s", self.n_jobs, "s" * (self.n_jobs > 1), " ".join(self.jobs)
            )
            if not self.wait:
                return
            replacements = 0
            while self.jobs:
                time.sleep(POLL_SECONDS)
                self.stop_request.check()
                for job_id in [j for j in self.jobs if j not in set(queued(list(self.jobs)))]:
                    how = self._ending(self.jobs.pop(job_id))
                    if how is None:
                        continue
                    log.warning("SLURM job %s ended before the sweep did (%s)", job_id, how)
                    if (
                        on_death(f"slurm-{job_id}", how)
                        and replacements < MAX_REPLACEMENTS_PER_JOB * self.n_jobs
                    ):
                        replacements += 1
                        self._add(submit())
                        log.warning("SLURM job %s replaces it", list(self.jobs)[-1])
                if on_tick():
                    self.stop()
                    break
        except KeyboardInterrupt:
            self.stop()
            raise

    def _add(self, job: Any) -> None:
        self.jobs[str(job.job_id)] = job

    def _ending(self, job: Any) -> str | None:
        """None when the worker ended because the sweep is done (or cannot go on: a bad
        config); otherwise how the job ended, and another may take its place."""
        if Path(job.paths.result_pickle).exists():
            try:
                code = job.result()
            except Exception as exc:  # the worker wrapper itself failed
                return f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1][:200]}"
            if code in (0, exits.USER_ERROR):
                return None
            if code == exits.INTERRUPTED:  # SIGUSR2 before its time limit, or an outside SIGINT
                return f"its worker stopped on a signal, {final_state(str(job.job_id))}"
            return f"its worker's exit status {code}"
        return f"ended by the scheduler: {final_state(str(job.job_id))}"

    def stop(self, grace_s: float = 60.0) -> None:
        """Ask every job's worker to record its trial and exit; cancel the ones that hang."""
        ids = list(self.jobs)
        if not ids:
            return
        subprocess.run(["scancel", "--signal=INT", *ids], capture_output=True, timeout=60)
        until = time.monotonic() + grace_s
        while queued(ids) and time.monotonic() < until:
            time.sleep(POLL_SECONDS / 2)
        if left := queued(ids):
            subprocess.run(["scancel", *left], capture_output=True, timeout=60)
            while queued(left):
                time.sleep(POLL_SECONDS / 2)
        self.jobs.clear()


def queued(job_ids: Sequence[str]) -> list[str]:
    """The ones of ``job_ids`` still pending or running (``squeue``)."""
    if not job_ids:
        return []
    out = subprocess.run(
        ["squeue", "-h", "-o", "%i", "-j", ",".join(job_ids)], capture_output=True, text=True, timeout=60
    )
    if out.returncode != 0 and "Invalid job id" not in out.stderr:
        return list(job_ids)  # SLURM is busy: ask again later
    return [line.strip() for line in out.stdout.splitlines() if line.strip() in job_ids]


def job_alive(worker: Any) -> bool:
    """Whether a trial's worker is a SLURM job still in the queue."""
    if not (isinstance(worker, str) and worker.startswith("slurm-")):
        return False
    job_id = worker[len("slurm-") :]
    return bool(shutil.which("squeue")) and job_id in queued([job_id])


def final_state(job_id: str) -> str:
    """How SLURM says a job ended (CANCELLED, TIMEOUT, NODE_FAIL...), as far as it remembers."""
    for command in (
        ["sacct", "-n", "-X", "-P", "-o", "State", "-j", job_id],
        ["scontrol", "-o", "show", "job", job_id],
    ):
        try:
            out = subprocess.run(command, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            continue
        text = out.stdout.strip()
        if out.returncode == 0 and text:
            if command[0] == "scontrol":
                text = next((f.split("=", 1)[1] for f in text.split() if f.startswith("JobState=")), text)
            return text.splitlines()[0].split()[0]
    return "state unknown"


def slurm_jobs(
    n_jobs: int,
    argv: Sequence[str],
    sweep_dir: Path,
    study_name: str,
    storage_url: str,
    launcher: Mapping[str, Any],
    stop_request: Any,
    told: WorkerEnv,
    wait: bool,
) -> SlurmJobs:
    """``n_jobs`` worker jobs of this command with the launcher's SLURM settings."""
    folder = str(launcher.get("submitit_folder") or sweep_dir / ".submitit" / "%j")
    return SlurmJobs(
        command=worker_command(argv, str(sweep_dir), study_name),
        storage_file=write_storage_file(sweep_dir, storage_url),
        told=told,
        parameters=executor_parameters(launcher, f"cnnsweep-{study_name}"),
        folder=folder,
        n_jobs=n_jobs,
        stop_request=stop_request,
        wait=wait,
    )
