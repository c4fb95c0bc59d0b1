"""Benchmark 11: a seed_cnn sweep's ablation path: why is the best best?"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.measure.common import open_study, run_sweep
from cnnsweep.sweep.study.records import metrics_of


def why(workdir: Path, n_trials: int, epochs: int, seeds: int, *extra: str) -> dict:
    """Why is the best configuration best, on real Fashion-MNIST: a seed_cnn sweep (pruned by
    successive halving) with its ablation path from the lesson's model to the best. Which
    changes explain the gain, with their intervals, what the path cost, and how far the
    pruner's early epochs could be trusted."""
    import pandas as pd
    import yaml

    wall, sweep_dir = run_sweep(
        workdir,
        "why",
        "+sweep=seed_cnn",
        "dataset=fashion_mnist",
        f"trainer.epochs={epochs}",
        f"hydra.sweeper.n_trials={n_trials}",
        f"hydra.sweeper.ablation.seeds={seeds}",
        *extra,
    )
    results = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    path = results.get("ablation") or {
        "baseline": None,
        "in_words": None,
        "total_gain": None,
        "total_ci95": None,
        "noise_std": None,
    }  # the best was the baseline
    table = sweep_dir / "ablation.csv"
    runs = pd.read_csv(table) if table.exists() else pd.DataFrame(columns=["step"])
    study = open_study(sweep_dir)
    run_dirs = sorted((sweep_dir / "ablation").iterdir()) if (sweep_dir / "ablation").exists() else []
    path_train_s = sum(
        json.loads((d / "metrics.json").read_text()).get("train_seconds") or 0
        for d in run_dirs
        if (d / "metrics.json").exists()
    )
    search_train_s = sum(float(metrics_of(t).get("train_seconds") or 0) for t in study.trials)
    fidelity = pd.read_csv(sweep_dir / "fidelity.csv") if (sweep_dir / "fidelity.csv").exists() else None
    judged = None
    if fidelity is not None and fidelity["spearman"].notna().any():
        row = (
            fidelity.dropna(subset=["spearman"])
            .sort_values(["pruned_here", "epoch"], ascending=[False, True])
            .iloc[0]
        )
        judged = {
            "epoch": int(row["epoch"]),
            "spearman": round(float(row["spearman"]), 2),
            "ci95": [round(float(row["ci95_lo"]), 2), round(float(row["ci95_hi"]), 2)],
            "pruned": int(fidelity["pruned_here"].sum()),
            "might_have_made_top_k": int(fidelity["might_have_made_top_k"].sum()),
        }

    def points(value):
        return None if value is None or pd.isna(value) else round(100 * float(value), 2)

    return {
        "n_trials": n_trials,
        "epochs": epochs,
        "seeds": seeds,
        "wall_s": round(wall, 1),
        "best_trial": results["best_trial"],
        "best_params": results["best_params"],
        "baseline": path["baseline"],
        "in_words": path["in_words"],
        "total_gain_points": points(path["total_gain"]),
        "total_gain_ci95_points": [points(v) for v in path["total_ci95"]] if path["total_ci95"] else None,
        "noise_std_points": points(path["noise_std"]),
        "steps": [
            {
                "setting": r["setting"],
                "from": r["from"],
                "to": r["to"],
                "runs": int(r["runs"]),
                "mean": round(float(r["mean"]), 4),
                "gain_points": points(r["gain"]),
                "gain_ci95_points": [points(r["gain_ci95_lo"]), points(r["gain_ci95_hi"])],
                "share": None if pd.isna(r["share"]) else round(float(r["share"]), 2),
                "share_ci95": [
                    None if pd.isna(v) else round(float(v), 2)
                    for v in (r["share_ci95_lo"], r["share_ci95_hi"])
                ],
            }
            for r in runs[runs["step"] > 0].to_dict("records")
        ],
        "path_runs": len(run_dirs),
        "path_train_s": round(path_train_s, 1),
        "search_train_s": round(search_train_s, 1),
        "path_share_of_training": round(path_train_s / (path_train_s + search_train_s), 3),
        "early_epochs": judged,
    }
