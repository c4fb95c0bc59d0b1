"""Benchmark 5: trials per hour with n_jobs 1 and 2."""

from __future__ import annotations

from pathlib import Path

from benchmarks.measure.common import open_study, run_sweep, trial_phase_s
from cnnsweep.sweep.study.records import metrics_of

SCALING_BUDGET_S = 200  # each whole command runs at least three minutes


def scaling(workdir: Path, epochs: int, *, seconds: int | None = None, n_trials: int = 100_000) -> dict:
    """Trials per hour of whole sweep commands with n_jobs=1 and n_jobs=2, each given the same
    time budget (hydra.sweeper.timeout) and more trials than fit in it: the figure a user gets,
    workers' start-up, the deadline's last trials and the report included. (Without a budget,
    each command runs ``n_trials``: the quick check.)"""
    result: dict = {"budget_s": seconds, "epochs": epochs}
    budget = [f"hydra.sweeper.timeout={seconds}"] if seconds else []
    for n_jobs in (1, 2):
        wall, sweep_dir = run_sweep(
            workdir,
            f"jobs{n_jobs}",
            "+sweep=seed_cnn",
            "dataset=digits",
            f"trainer.epochs={epochs}",
            "hydra/sweeper/pruner=none",
            f"hydra.sweeper.n_trials={n_trials}",
            *budget,
            f"hydra.sweeper.n_jobs={n_jobs}",
        )
        study = open_study(sweep_dir)
        finished = sum(metrics_of(t).get("state") == "complete" for t in study.trials)
        phase = trial_phase_s(study)
        result[f"n_jobs={n_jobs}"] = {
            "wall_s": round(wall, 1),
            "complete": finished,
            "trials_per_hour": round(3600 * finished / wall),
            "trial_phase_s": round(phase, 1),
            "trial_phase_trials_per_hour": round(3600 * finished / phase),
        }
    jobs1, jobs2 = result["n_jobs=1"], result["n_jobs=2"]
    result["command_speedup"] = round(jobs2["trials_per_hour"] / jobs1["trials_per_hour"], 2)
    result["trial_phase_speedup"] = round(
        jobs2["trial_phase_trials_per_hour"] / jobs1["trial_phase_trials_per_hour"], 2
    )
    return result
