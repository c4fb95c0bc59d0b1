"""Benchmark 7: the winner's curse, a sweep confirmed with new seeds."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.measure.common import open_study, run_sweep
from cnnsweep.sweep.study.records import metrics_of


def trust(workdir: Path, n_trials: int, epochs: int, top_k: int, seeds: int, *extra: str) -> dict:
    """The winner's curse on real Fashion-MNIST: a seed_cnn sweep whose top configurations are
    confirmed with new seeds. Is the single-run winner the confirmed one, how much does its
    single run overstate it, how large is the seed-to-seed noise, and what did it cost?"""
    import itertools

    import pandas as pd

    wall, sweep_dir = run_sweep(
        workdir,
        "trust",
        "+sweep=seed_cnn",
        "dataset=fashion_mnist",
        f"trainer.epochs={epochs}",
        "hydra/sweeper/pruner=none",
        f"hydra.sweeper.n_trials={n_trials}",
        f"hydra.sweeper.confirm.top_k={top_k}",
        f"hydra.sweeper.confirm.seeds={seeds}",
        *extra,
    )
    study = open_study(sweep_dir)
    confirmed = study.user_attrs["cnnsweep_confirmed"]
    runs = pd.read_csv(sweep_dir / "confirm.csv")
    runs = runs[runs["status"] == "complete"]
    new_runs = runs[~runs["original"].astype(bool)]  # the statistics count new seeds only
    complete = [t for t in study.trials if metrics_of(t).get("state") == "complete"]
    single = max(complete, key=lambda t: t.value)
    by_config = {trial: group["objective"].tolist() for trial, group in new_runs.groupby("trial")}
    configs = {c["trial"]: c for c in confirmed["configs"]}
    # Had each configuration been trained once (any one of its new runs), how often would the
    # best single run have been the confirmed winner? Every combination, counted exactly.
    combos = list(itertools.product(*by_config.values()))
    trials = list(by_config)
    picks = sum(trials[max(range(len(c)), key=c.__getitem__)] == confirmed["best_trial"] for c in combos)
    confirm_train_s = sum(
        json.loads((sweep_dir / d / "metrics.json").read_text())["train_seconds"] for d in new_runs["run_dir"]
    )
    search_train_s = sum(float(metrics_of(t).get("train_seconds") or 0) for t in study.trials)
    winner = configs[confirmed["best_trial"]]
    return {
        "n_trials": n_trials,
        "epochs": epochs,
        "top_k": top_k,
        "seeds": seeds,
        "wall_s": round(wall, 1),
        "counted": "new seeds only (each configuration's selecting run shown, not counted)",
        "single_run_winner": single.number,
        "single_run_best": round(single.value, 4),
        "confirmed_winner": confirmed["best_trial"],
        "confirmed_winner_mean": round(winner["mean"], 4),
        "confirmed_winner_ci95": [round(v, 4) for v in winner["ci95"]] if winner.get("ci95") else None,
        "single_run_winner_is_confirmed": single.number == confirmed["best_trial"],
        "single_run_picks_confirmed_winner": round(picks / len(combos), 3),
        # the single run against the mean of the new runs alone (the run is not in that mean)
        "winner_overstatement_points": round(100 * configs[single.number]["overstated_by"], 2),
        "overstatement_points": {
            str(t): round(100 * c["overstated_by"], 2)
            for t, c in configs.items()
            if c.get("overstated_by") is not None
        },
        "noise_std_points": round(100 * confirmed["noise_std"], 2) if confirmed["noise_std"] else None,
        "runs_agree": confirmed.get("runs_agree", False),
        "clear_winner": confirmed["clear_winner"],
        "verdict": confirmed["verdict"],
        "p_best": {str(c["trial"]): round(c["p_best"], 3) for c in confirmed["configs"]},
        "confirm_runs": len(new_runs),
        "confirm_train_s": round(confirm_train_s, 1),
        "search_train_s": round(search_train_s, 1),
        "confirm_share_of_training": round(confirm_train_s / (confirm_train_s + search_train_s), 3),
    }
