"""Benchmark 4: a time-boxed Fashion-MNIST sweep against its peers given the same recipe and budget."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.measure.common import open_study, run_python, run_sweep
from cnnsweep.sweep.study.records import metrics_of

# Benchmark 4's peers, in the order they run: (name, module, recipe). The recipe-parity ones
# (cnnsweep's recipe written in plain Keras) first: the lead over them is the search's.
PEERS = (
    ("keras_tuner_cnnsweep_recipe", "benchmarks.keras_tuner_quality", "cnnsweep"),
    ("optuna_cnnsweep_recipe", "benchmarks.optuna_quality", "cnnsweep"),
    ("keras_tuner_plain", "benchmarks.keras_tuner_quality", "plain"),
    ("optuna_plain", "benchmarks.optuna_quality", "plain"),
)


def quality(
    workdir: Path,
    minutes: float,
    n_jobs: int,
    *extra: str,
    peers: tuple[str, ...] = (),
    peer_minutes: float | None = None,
) -> dict:
    """Best-by-validation test accuracy of a time-boxed deep_cnn sweep on real Fashion-MNIST,
    then of each peer on the same space, split and time box (run one after another, alone).

    The time box is hydra.sweeper.timeout: the whole sweep, report included; each side's
    ``wall_s`` is its whole command. ``peer_minutes`` (the quick check) gives the peers
    another time box.
    """
    wall, sweep_dir = run_sweep(
        workdir,
        "quality",
        "+sweep=deep_cnn",
        "dataset=fashion_mnist",
        "hydra.sweeper.n_trials=1000",
        f"hydra.sweeper.timeout={int(minutes * 60)}",
        f"hydra.sweeper.n_jobs={n_jobs}",
        *extra,
    )
    study = open_study(sweep_dir)
    complete = [t for t in study.trials if metrics_of(t).get("state") == "complete"]
    if not complete:
        raise RuntimeError(f"the {minutes}-minute sweep finished no trial; see {sweep_dir}")
    best = max(complete, key=lambda t: t.value)
    refit = study.user_attrs.get("cnnsweep_refit") or {}
    result: dict = {
        "minutes": minutes,
        "n_jobs": n_jobs,
        "wall_s": round(wall, 1),
        "trials": len(study.trials),
        "complete": len(complete),
        "best_trial": best.number,
        "best_val_acc": round(best.value, 4),
        "best_test_acc": round(metrics_of(best)["test_acc"], 4),
        "refit_test_acc": refit.get("test_acc") and round(refit["test_acc"], 4),
        "best_params": best.params,
        "best_params_count": metrics_of(best).get("params_count"),
        "peers": {},
    }
    given = dict(o.split("=", 1) for o in extra)
    limits = [
        f"--{key.split('.')[1].replace('_', '-')}={given[key]}"
        for key in ("dataset.train_limit", "dataset.test_limit")
        if key in given
    ]
    for name, module, recipe in PEERS:
        if name not in peers:
            continue
        args = [
            given.get("dataset", "fashion_mnist"),
            str(peer_minutes or minutes),
            recipe,
            f"--workdir={workdir / name}",
            *limits,
        ]
        try:
            peer_wall, proc = run_python("-m", module, *args, cwd=workdir)
        except RuntimeError as exc:
            result["peers"][name] = {"recipe": recipe, "error": str(exc).splitlines()[0]}
            continue
        peer = json.loads(proc.stdout.strip().splitlines()[-1])
        result["peers"][name] = {**peer, "wall_s": round(peer_wall, 1), "script_s": peer["wall_s"]}
    parity = [
        p["best_test_acc"]
        for n, p in result["peers"].items()
        if p.get("recipe") == "cnnsweep" and "best_test_acc" in p
    ]
    if parity:
        result["lead_over_recipe_parity_points"] = round(100 * (result["best_test_acc"] - max(parity)), 2)
    return result


def quality_run(result: dict) -> dict:
    """One run of benchmark 4 as its spread over runs keeps it: each side's best test accuracy."""
    sides = {"cnnsweep": result["best_test_acc"]}
    sides.update(
        {name: peer["best_test_acc"] for name, peer in result["peers"].items() if "best_test_acc" in peer}
    )
    return {"date": result["machine"]["date"], "minutes": result["minutes"], "best_test_acc": sides}


def recorded_quality_runs(results_dir: Path) -> list[dict]:
    store = results_dir / "results.json"
    return json.loads(store.read_text()).get("quality_runs", []) if store.exists() else []
