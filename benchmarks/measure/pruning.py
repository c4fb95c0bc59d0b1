"""Benchmark 3: what pruning saves a sweep, and what it costs the answer."""

from __future__ import annotations

from pathlib import Path

from benchmarks.measure.common import open_study, run_sweep, trial_phase_s
from cnnsweep.sweep.study.records import metrics_of


def pruning(workdir: Path, n_trials: int, epochs: int) -> dict:
    """The same seeded sweep with and without its pruner (seed_cnn's: successive halving)."""
    result: dict = {"n_trials": n_trials, "max_epochs": epochs}
    for pruner in ("none", "pruned"):
        choice = ["hydra/sweeper/pruner=none"] if pruner == "none" else []
        wall, sweep_dir = run_sweep(
            workdir,
            f"prune_{pruner}",
            "+sweep=seed_cnn",
            "dataset=digits",
            f"trainer.epochs={epochs}",
            "trainer.early_stopping.patience=3",
            *choice,
            f"hydra.sweeper.n_trials={n_trials}",
        )
        study = open_study(sweep_dir)
        epochs_run = sum(int(metrics_of(t).get("epochs_run", 0)) for t in study.trials)
        best = max(
            metrics_of(t).get("objective") or 0
            for t in study.trials
            if metrics_of(t).get("state") == "complete"
        )
        result[pruner] = {
            "epochs_trained": epochs_run,
            "wall_s": round(wall, 1),
            "trial_phase_s": round(trial_phase_s(study), 1),
            "best_val_acc": round(best, 4),
            "pruned": sum(t.state.name == "PRUNED" for t in study.trials),
        }
    result["epochs_saved_pct"] = round(
        100 * (1 - result["pruned"]["epochs_trained"] / result["none"]["epochs_trained"]), 1
    )
    result["best_val_acc_diff_points"] = round(
        100 * (result["pruned"]["best_val_acc"] - result["none"]["best_val_acc"]), 2
    )
    return result
