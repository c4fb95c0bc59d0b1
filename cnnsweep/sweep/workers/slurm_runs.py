"""Whole commands as SLURM jobs with the ``submitit_slurm`` launcher's settings: the runs after a
sweep's search (its confirmation, its ablation path, its refit), each one job, while the
sweep's own worker jobs (:mod:`.slurm`) have ended."""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cnnsweep.sweep.workers.slurm import POLL_SECONDS, executor_parameters, final_state, queued

log = logging.getLogger("cnnsweep")


def run_command(command: list[str]) -> tuple[int, str]:
    """What a job runs for a whole command: it, and its exit status and last stderr line."""
    process = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return process.returncode, (process.stderr.strip().splitlines() or [""])[-1][:300]


def run_commands_as_jobs(
    commands: Sequence[list[str]],
    launcher: Mapping[str, Any],
    folder: str,
    name: str,
    stop_request: Any,
    on_end: Callable[[int, str], None],
) -> None:
    """Each command as one SLURM job with the launcher's settings; ``on_end(index, error)`` as
    each ends (the scheduler decides how many run at once).

    Raises:
        KeyboardInterrupt: Ctrl-C; the jobs still queued are cancelled first.
    """
    import submitit

    executor = submitit.AutoExecutor(folder=folder, cluster="slurm", slurm_max_num_timeout=0)
    executor.update_parameters(**executor_parameters(launcher, name))
    jobs = {index: executor.submit(run_command, command) for index, command in enumerate(commands)}
    log.info(
        "submitted %d SLURM job%s: %s",
        len(jobs),
        "s" * (len(jobs) > 1),
        " ".join(str(job.job_id) for job in jobs.values()),
    )
    try:
        while jobs:
            time.sleep(POLL_SECONDS)
            stop_request.check()
            still = set(queued([str(job.job_id) for job in jobs.values()]))
            for index, job in [(i, j) for i, j in jobs.items() if str(j.job_id) not in still]:
                del jobs[index]
                try:
                    code, error = job.result()
                except Exception as exc:  # the job ended without an answer (cancelled, timed out)
                    code, error = -1, f"SLURM job {job.job_id}: {final_state(str(job.job_id))} ({exc})"
                on_end(index, error or f"exit status {code}")
    except KeyboardInterrupt:
        if jobs:
            subprocess.run(
                ["scancel", *(str(job.job_id) for job in jobs.values())], capture_output=True, timeout=60
            )
        raise
