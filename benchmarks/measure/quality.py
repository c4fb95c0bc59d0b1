"""Benchmark 4: a time-boxed Fashion-MNIST sweep against its peers given the same recipe and budget.

Each run of the benchmark is one round: the sweep, then each peer, one after another and
alone, every side in the same time box. Rounds accumulate in ``results.json``'s
``quality_runs``; RESULTS.md reports each side's median and range over the rounds of the
current protocol and cnnsweep's lead over each side with an interval
(:mod:`benchmarks.measure.spread`).
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.measure.common import open_study, run_python, run_sweep
from benchmarks.measure.results import recorded
from cnnsweep.sweep.study.records import metrics_of

# Benchmark 4's peers, in the order they run: (name, module, recipe). The recipe-parity ones
# (cnnsweep's recipe written in plain Keras) first: the lead over them is the search's. The
# train-longer side searches nothing: it is the default model given the whole time box.
PEERS = (
    ("optuna_cnnsweep_recipe", "benchmarks.optuna_quality", "cnnsweep"),
    ("train_longer", "benchmarks.train_longer", "cnnsweep"),
    ("keras_tuner_cnnsweep_recipe", "benchmarks.keras_tuner_quality", "cnnsweep"),
    ("keras_tuner_plain", "benchmarks.keras_tuner_quality", "plain"),
    ("optuna_plain", "benchmarks.optuna_quality", "plain"),
)
# The peers a round runs unless told otherwise: the three main sides with cnnsweep.
MAIN_PEERS = ("optuna_cnnsweep_recipe", "train_longer")
# How the sweep spends its time box beyond the search: the chosen configuration trained again
# on training plus validation images, its epochs sized to the share of the budget kept for it.
SWEEP_FLAGS = ("hydra.sweeper.refit=true", "hydra.sweeper.refit_share=0.4")
# Each side's protocol, bumped when its recipe, scoring or budget changes: its rounds of another
# protocol are listed as history, never pooled with the current ones. 2: every side has the
# baseline and scores with mirrors, the train-longer side, the sweep with n_jobs=2 and a
# refit share. 3 (cnnsweep): the refit sizes its epochs to the time left from its own
# measured epochs (trainer.refit_seconds). 4: the refit's plan also shrinks when its later
# epochs run slower than the first ones (a round of 3 overran its time box by its refit).
# 5: the refit replans after every epoch from the median epoch, growing as well as shrinking
# (a round of 4 planned from one slow second epoch and left much of its time unused).
# 6: the answer was the ensemble (hydra.sweeper.ensemble=3: the refit and the two best trials
# averaged); its three rounds scored -0.11, -0.05 and +0.04 points against the refit alone, so
# the answer is the refit again and the current protocol is 5 once more (6's rounds are listed,
# with what each part scored). 7: the refit's share of the time box was 0.6 (0.4 otherwise):
# its two rounds gave the refit 21 and 23 epochs (5's: 14 to 19) and scored 0.9352 and 0.9364,
# a median below 5's (0.9363), so the share is 0.4 and the current protocol 5 again (7's
# rounds are listed).
# The peers' 3 (train-longer): its time box starts with its process, as its whole command is
# timed, and it replans after every epoch (its rounds of 2 planned once, from its second epoch,
# and ended up to 24 s past the 20 minutes). The searching peers' 3 (Optuna, KerasTuner): their
# time box starts with the process too, a trial ends at the epoch after which the next would
# not fit and none starts whose first epoch would not, with the test scoring's 15 s kept
# back (their rounds of 2 stopped only once past the box and ended up to 31 s and 67 s past it).
# 4: an epoch still running when training's time ends stops at that batch (a round of 3 ended
# 11 s past the box: its last trial's first epoch, of a larger model, took longer than the median
# first epoch it was started on). 5: that cut comes a batch and a validation pass (the longest
# the box has measured) before training's end, as Keras validates a cut epoch too (a round of 4
# ended 0.8 s past the box: its cut epoch's validation and the test scoring took 16 s of the 15 s
# kept back).
PROTOCOLS = {"cnnsweep": 5} | {name: 5 for name, _, _ in PEERS} | {"train_longer": 3}
# The sweep's workers in a round (hydra.sweeper.n_jobs): both cores. A round run with another
# count is cnnsweep itself set otherwise, kept as a side of its own (never pooled with the
# main one, never a peer it must lead), so the rounds measure what the second worker buys.
SWEEP_JOBS = 2
VARIANTS = {"cnnsweep_n_jobs_1": 1}
PROTOCOLS |= {name: PROTOCOLS["cnnsweep"] for name in VARIANTS}


def sweep_side(n_jobs: int) -> str:
    """The side a round of the sweep with ``n_jobs`` workers counts for."""
    if n_jobs == SWEEP_JOBS:
        return "cnnsweep"
    for name, jobs in VARIANTS.items():
        if jobs == n_jobs:
            return name
    kept = [SWEEP_JOBS, *VARIANTS.values()]
    raise ValueError(f"benchmark 4 keeps rounds of n_jobs {' or '.join(map(str, kept))}, not {n_jobs}")


def quality(
    workdir: Path,
    minutes: float,
    n_jobs: int,
    *extra: str,
    peers: tuple[str, ...] = (),
    peer_minutes: float | None = None,
    sweep: bool = True,
) -> dict:
    """Best-by-validation test accuracy of a time-boxed deep_cnn sweep on real Fashion-MNIST,
    then of each peer on the same space, split and time box (run one after another, alone).

    The time box is hydra.sweeper.timeout: the whole sweep, report included; each side's
    ``wall_s`` is its whole command. ``peer_minutes`` (the quick check) gives the peers
    another time box. Without ``sweep`` the round runs the peers alone (a peer whose
    protocol changed needs rounds of its own, not more rounds of the sweep): its result has
    ``side`` None and no answer.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    result = _sweep_round(workdir, minutes, n_jobs, *extra) if sweep else _no_sweep(minutes)
    result["peers"] = {}
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
        result["protocol"][name] = PROTOCOLS[name]
    result["lead_points"] = {
        name: round(100 * (result["answer_test_acc"] - peer["best_test_acc"]), 2)
        for name, peer in result["peers"].items()
        if "best_test_acc" in peer and result["answer_test_acc"] is not None
    }
    return result


def _no_sweep(minutes: float) -> dict:
    """A round of the peers alone: the sweep's fields, empty."""
    return {
        "side": None,
        "protocol": {},
        "minutes": minutes,
        "n_jobs": None,
        "answer": None,
        "answer_test_acc": None,
    }


def _sweep_round(workdir: Path, minutes: float, n_jobs: int, *extra: str) -> dict:
    """The round's deep_cnn sweep, time-boxed, and what it answered."""
    side = sweep_side(n_jobs)
    flags = (
        "+sweep=deep_cnn",
        "dataset=fashion_mnist",
        "hydra.sweeper.n_trials=1000",
        f"hydra.sweeper.timeout={int(minutes * 60)}",
        f"hydra.sweeper.n_jobs={n_jobs}",
        *SWEEP_FLAGS,
        *extra,
    )
    wall, sweep_dir = run_sweep(workdir, "quality", *flags)
    study = open_study(sweep_dir)
    complete = [t for t in study.trials if metrics_of(t).get("state") == "complete"]
    if not complete:
        raise RuntimeError(f"the {minutes}-minute sweep finished no trial; see {sweep_dir}")
    best = max(complete, key=lambda t: t.value)
    refit = study.user_attrs.get("cnnsweep_refit") or {}
    refit_acc = refit.get("test_acc") if refit.get("status") == "complete" else None
    ensemble = study.user_attrs.get("cnnsweep_ensemble") or {}
    ensemble_acc = ensemble.get("test_acc") if ensemble.get("status") == "complete" else None
    best_acc = round(metrics_of(best)["test_acc"], 4)
    # cnnsweep's answer, decided by the flags and what completed, never by the test split: the
    # refit where it ran, else the best trial by validation accuracy. An ensemble (set by extra
    # flags) is recorded beside it, never the answer (protocol 6 measured it no better than the refit).
    answer, answer_acc = ("refit", round(refit_acc, 4)) if refit_acc is not None else ("best trial", best_acc)
    result: dict = {
        "side": side,
        "protocol": {side: PROTOCOLS[side]},
        "flags": list(flags),
        "minutes": minutes,
        "n_jobs": n_jobs,
        "wall_s": round(wall, 1),
        "trials": len(study.trials),
        "complete": len(complete),
        "best_trial": best.number,
        "best_val_acc": round(best.value, 4),
        "best_test_acc": best_acc,
        "refit_test_acc": refit_acc and round(refit_acc, 4),
        "refit_epochs": refit.get("epochs") if refit_acc is not None else None,
        "ensemble_test_acc": ensemble_acc and round(ensemble_acc, 4),
        "ensemble_members": ensemble.get("members") if ensemble_acc is not None else None,
        "answer": answer,
        "answer_test_acc": answer_acc,
        "best_params": best.params,
        "best_params_count": metrics_of(best).get("params_count"),
    }
    return result


# What a peer did with its time box, as far as its script reports it (a search: its trials;
# the model trained for the whole box: its epochs).
PEER_FACTS = ("trials", "complete", "pruned", "epochs_trained")


def quality_run(result: dict) -> dict:
    """One round of benchmark 4 as the rounds keep it: each side's test accuracy (cnnsweep's
    answer's) and whole command, and the facts of the round."""
    scored = {name: peer for name, peer in result["peers"].items() if "best_test_acc" in peer}
    side = result.get("side", "cnnsweep")
    run = {
        "protocol": result["protocol"],
        "date": result["machine"]["date"],
        "processor": result["machine"]["processor"],
        "commit": result["machine"].get("commit"),
        "minutes": result["minutes"],
        "answer": result["answer"],
        "test_acc": {name: peer["best_test_acc"] for name, peer in scored.items()},
        "wall_s": {name: peer["wall_s"] for name, peer in scored.items()},
    }
    if scored:
        run["peer_facts"] = {
            name: {key: peer[key] for key in PEER_FACTS if key in peer} for name, peer in scored.items()
        }
    if side is None:  # the peers alone: no sweep, no answer
        return run
    return run | {
        "n_jobs": result["n_jobs"],
        # What the sweep did with its time box: how far the search got, what the refit trained,
        # and what each of the best trial, the refit and the ensemble scored.
        "cnnsweep": {
            key: result.get(key)
            for key in (
                "trials",
                "complete",
                "best_trial",
                "refit_epochs",
                "best_test_acc",
                "refit_test_acc",
                "ensemble_test_acc",
                "ensemble_members",
            )
        },
        "test_acc": {side: result["answer_test_acc"]} | run["test_acc"],
        "wall_s": {side: result["wall_s"]} | run["wall_s"],
    }


def recorded_quality_runs(results_dir: Path) -> list[dict]:
    return recorded(results_dir).get("quality_runs", [])
