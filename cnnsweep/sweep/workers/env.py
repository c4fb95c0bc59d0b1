"""Everything a worker process is told by whoever starts it, in one frozen object.

A coordinator with ``hydra.sweeper.n_jobs > 1`` starts its workers as processes of
the sweep's own command (:func:`worker_command`), and a SLURM job's wrapper does
the same on its node. What else a worker must know travels in its environment,
encoded by :meth:`WorkerEnv.encode` and read back once by :meth:`WorkerEnv.decode`:

- the storage URL (it may hold a password: never on a command line, where any
  user of the machine can read it),
- the sweep's training deadline (``hydra.sweeper.timeout``),
- who the worker is (a SLURM job's ``slurm-<job id>``, else its process id) and
  which of this machine's workers (its own stream of sampler seeds, its GPU),
- its share of the machine: CPU threads, a GPU and that GPU's memory, and how many
  workers share the RAM (a null ``trainer.memory_limit_mb`` is divided among them).

No other module names these variables.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

STORAGE_VAR = "CNNSWEEP_STORAGE_URL"
DEADLINE_VAR = "CNNSWEEP_DEADLINE"
WORKER_ID_VAR = "CNNSWEEP_WORKER_ID"
INDEX_VAR = "CNNSWEEP_WORKER_INDEX"
WORKERS_HERE_VAR = "CNNSWEEP_WORKERS_HERE"
GPU_MEMORY_HEADROOM = 0.9  # of a GPU shared by several workers, what they reserve together


@dataclass(frozen=True)
class WorkerEnv:
    """What one worker process is told (the defaults: a sweep's own, single process)."""

    storage_url: str | None = None  # the study's storage; the worker's hydra.sweeper.storage reads it
    deadline: float | None = None  # time.time() by which training must end; None: no time budget
    worker_id: str | None = None  # a SLURM job's worker: "slurm-<job id>"; None: known by its pid
    index: int | None = None  # which of this machine's workers (0, 1, ...); None: not a local worker
    workers_here: int = 1  # worker processes sharing this machine's memory
    threads: int | None = None  # CPU threads for TensorFlow and OpenMP; None: all
    gpu: int | None = None  # the one GPU this worker sees; None: as the machine has them
    gpu_sharing: int = 1  # workers on that GPU, each reserving its share of the memory

    def encode(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The worker's environment: ``base`` (the caller's) plus everything above.

        A GPU memory fraction the user set in ``base`` is kept.
        """
        env = dict(base or {})
        for var, value in (
            (STORAGE_VAR, self.storage_url),
            (WORKER_ID_VAR, self.worker_id),
            (INDEX_VAR, self.index),
            (DEADLINE_VAR, self.deadline and repr(self.deadline)),
        ):
            if value is not None:
                env[var] = str(value)
        env[WORKERS_HERE_VAR] = str(self.workers_here)
        if self.threads is not None:
            env.update(
                TF_NUM_INTRAOP_THREADS=str(self.threads),
                TF_NUM_INTEROP_THREADS="1",
                OMP_NUM_THREADS=str(self.threads),
            )
        if self.gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = str(self.gpu)
            if self.gpu_sharing > 1:  # JAX would reserve 75% of the GPU in the first process, TF all
                share = GPU_MEMORY_HEADROOM / self.gpu_sharing
                env.setdefault("XLA_PYTHON_CLIENT_MEM_FRACTION", f"{share:.2f}")
                env.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
        return env

    @classmethod
    def decode(cls, environ: Mapping[str, str]) -> WorkerEnv:
        """What this process was told (the defaults where nothing was)."""
        deadline, index = environ.get(DEADLINE_VAR), environ.get(INDEX_VAR)
        threads, gpu = environ.get("TF_NUM_INTRAOP_THREADS"), environ.get("CUDA_VISIBLE_DEVICES", "")
        return cls(
            storage_url=environ.get(STORAGE_VAR),
            deadline=float(deadline) if deadline else None,
            worker_id=environ.get(WORKER_ID_VAR) or None,
            index=int(index) if index else None,
            workers_here=max(1, int(environ.get(WORKERS_HERE_VAR) or 1)),
            threads=int(threads) if threads else None,
            gpu=int(gpu) if gpu.strip().isdigit() else None,
        )

    def replace(self, **changes: object) -> WorkerEnv:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @property
    def is_worker(self) -> bool:
        """Whether this process is a worker of a sweep: a coordinator tells its workers, and
        only them, the study's storage. Nothing else decides it."""
        return self.storage_url is not None

    @property
    def marks_trials_as(self) -> int | str:
        """How this worker marks the trials it runs: its SLURM job, or its process id."""
        return self.worker_id or os.getpid()

    @property
    def watches_its_parent(self) -> bool:
        """A local worker stops when its coordinator is gone; a SLURM job's has none to watch."""
        return self.worker_id is None


def local_workers(
    n_jobs: int, cpus: int, gpus: int, storage_url: str, deadline: float | None
) -> list[WorkerEnv]:
    """What each of ``n_jobs`` worker processes on this machine is told: an equal share of
    the CPU threads and of the memory, and the GPUs round-robin."""
    threads = max(1, cpus // n_jobs)
    return [
        WorkerEnv(
            storage_url=storage_url,
            deadline=deadline,
            index=index,
            workers_here=n_jobs,
            threads=threads,
            gpu=index % gpus if gpus else None,
            gpu_sharing=len(range(index % gpus, n_jobs, gpus)) if gpus else 1,
        )
        for index in range(n_jobs)
    ]


def worker_command(command: Sequence[str], sweep_dir: str, study_name: str) -> list[str]:
    """The command of a worker process: the sweep's own (``command``, its arguments as Hydra
    parsed them), pinned to the study it joins and without the launcher that starts workers.

    Every other setting means what it means to the coordinator (``n_jobs`` too: the
    sweep's number of workers). The storage URL is not on it: the worker's
    ``hydra.sweeper.storage`` reads the environment (:data:`STORAGE_VAR`), and that
    environment, not the command, makes the process a worker (:attr:`WorkerEnv.is_worker`).
    """
    replaced = (
        "hydra.sweep.dir=",
        "hydra.sweeper.storage=",
        "hydra.sweeper.study_name=",
        "hydra/launcher=",
        "hydra.launcher.",
        "hydra.sweeper.wait=",
    )
    args = [a for a in command if not a.lstrip("+~").startswith(replaced)]
    return [
        sys.executable,
        "-m",
        "cnnsweep",
        *args,
        f"hydra.sweep.dir={sweep_dir}",
        f"hydra.sweeper.storage=${{oc.env:{STORAGE_VAR}}}",
        f"hydra.sweeper.study_name={study_name}",
    ]
