"""Benchmark 8: JAX on one NVIDIA GPU, steady-state epochs and workers sharing it."""

from __future__ import annotations

import json
import statistics
import subprocess
from pathlib import Path

from benchmarks.measure.common import open_study, run_sweep
from benchmarks.measure.quality import quality
from cnnsweep.sweep.study.records import metrics_of

GPU_SCALING_BUDGET_S = 120  # each of benchmark 8's two sharing commands


def steady_epoch_s(sweep_dir: Path) -> float | None:
    """The median epoch time after each trial's first (which JAX spends compiling)."""
    times = []
    for metrics_file in sweep_dir.glob("*/metrics.json"):
        metrics = json.loads(metrics_file.read_text())
        if metrics.get("status") == "complete" and int(metrics.get("epochs_run") or 0) > 1:
            rest = float(metrics["train_seconds"]) - float(metrics["first_epoch_seconds"])
            times.append(rest / (int(metrics["epochs_run"]) - 1))
    return round(statistics.median(times), 3) if times else None


def first_epoch_s(sweep_dir: Path) -> float | None:
    times = [json.loads(f.read_text()).get("first_epoch_seconds") for f in sweep_dir.glob("*/metrics.json")]
    return round(statistics.median([t for t in times if t]), 3) if any(times) else None


def gpu(
    workdir: Path,
    jobs: int,
    scaling_seconds: int | None,
    minutes: float,
    *extra: str,
    scaling_trials: int = 100_000,
) -> dict:
    """On one NVIDIA GPU with the JAX backend, three whole commands: seed_cnn's small models
    on Fashion-MNIST with n_jobs=1 and with n_jobs=``jobs`` sharing the GPU (same budget,
    trials per hour), then a deep_cnn sweep of ``minutes`` (best-by-validation test accuracy).
    First epochs (JAX compiles) and steady-state epochs are reported apart."""
    jax_backend = ("trainer.backend=jax", *extra)
    budget = [f"hydra.sweeper.timeout={scaling_seconds}"] if scaling_seconds else []
    result: dict = {"jobs": jobs, "scaling_budget_s": scaling_seconds, "device": gpu_name()}
    for n_jobs in (1, jobs):
        wall, sweep_dir = run_sweep(
            workdir,
            f"gpu-jobs{n_jobs}",
            "+sweep=seed_cnn",
            "trainer.epochs=3",
            "hydra/sweeper/pruner=none",
            f"hydra.sweeper.n_trials={scaling_trials}",
            *budget,
            f"hydra.sweeper.n_jobs={n_jobs}",
            *jax_backend,
        )
        study = open_study(sweep_dir)
        complete = sum(metrics_of(t).get("state") == "complete" for t in study.trials)
        result.setdefault(
            "backends",
            sorted({json.loads(f.read_text()).get("backend") for f in sweep_dir.glob("*/metrics.json")}),
        )
        result[f"n_jobs={n_jobs}"] = {
            "wall_s": round(wall, 1),
            "complete": complete,
            "trials_per_hour": round(3600 * complete / wall),
            "first_epoch_s": first_epoch_s(sweep_dir),
            "steady_epoch_s": steady_epoch_s(sweep_dir),
        }
    one, many = result["n_jobs=1"]["trials_per_hour"], result[f"n_jobs={jobs}"]["trials_per_hour"]
    result["sharing_speedup"] = round(many / one, 2) if one else None
    quality_run = quality(workdir, minutes, jobs, *jax_backend)
    result["quality"] = {
        key: quality_run[key]
        for key in (
            "minutes",
            "n_jobs",
            "wall_s",
            "trials",
            "complete",
            "best_trial",
            "best_val_acc",
            "best_test_acc",
            "best_params",
        )
    }
    return result


def gpu_name() -> str | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None
