"""cnnsweep's benchmarks: one command, results in benchmarks/RESULTS.md.

    python -m benchmarks.run                 # 1-3: overhead, throughput, pruning (~15 min, 2 cores)
    python -m benchmarks.run quality         # 4: a 20-minute Fashion-MNIST sweep, then four peers (~105 min)
    python -m benchmarks.run scaling         # 5: trials per hour with n_jobs 1 and 2
    python -m benchmarks.run defaults        # 6: the default run on Fashion-MNIST, timed (~5 min)
    python -m benchmarks.run trust           # 7: the winner's curse: a sweep confirmed with new seeds
    python -m benchmarks.run gpu             # 8: JAX on one NVIDIA GPU (scripts/pack-device.sh packs it)
    python -m benchmarks.run levers          # 9: the default run with each lever toward 0.94, 2 seeds
    python -m benchmarks.run tracking        # 10: what tracking=mlflow costs a deep_cnn trial (~15 min)
    python -m benchmarks.run why             # 11: a seed_cnn sweep's ablation path: why is the best best?
    python -m benchmarks.run --quick         # every benchmark on a tiny setting (the tests use it)

Every figure is measured in this run on this machine; ratios compare runs made
back to back. Results are kept per benchmark in results.json, and RESULTS.md is
rebuilt from it, so benchmark 4's last result stays next to a fresh 1-3.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from cnnsweep.sweep.study.records import metrics_of

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ENV = {
    **os.environ,
    "CNNSWEEP_OFFLINE": "1",
    "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
}


def _python(*args: str, cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], cwd=cwd, env=ENV, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])} failed:\n{proc.stderr[-3000:]}")
    return wall, proc


def _sweep(workdir: Path, name: str, *overrides: str) -> tuple[float, Path]:
    sweep_dir = workdir / name
    wall, _ = _python(
        "-m",
        "cnnsweep",
        "--multirun",
        f"hydra.sweep.dir={sweep_dir}",
        "trainer.quiet=true",
        *overrides,
        cwd=workdir,
    )
    return wall, sweep_dir


def _study(sweep_dir: Path):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if (sweep_dir / "optuna.db").exists():
        storage = f"sqlite:///{sweep_dir / 'optuna.db'}"
    else:
        from optuna.storages.journal import JournalFileBackend

        storage = optuna.storages.JournalStorage(JournalFileBackend(str(sweep_dir / "optuna.journal")))
    return optuna.load_study(study_name=optuna.get_all_study_names(storage)[0], storage=storage)


def _trial_phase(study) -> float:
    """From the first trial's start to the last trial's end (storage timestamps)."""
    trials = [t for t in study.trials if t.datetime_complete]
    return (max(t.datetime_complete for t in trials) - min(t.datetime_start for t in trials)).total_seconds()


# ---------------------------------------------------------------- 1. overhead
# The lesson's training (Adam at a constant rate, no label smoothing or augmentation), as the
# plain loop and KerasTuner's peer train: the benchmark measures the framework, not a recipe.
SAME_TRAINING_AS_PLAIN = ("trainer=seed", "trainer.early_stopping.monitor=val_acc")


def overhead(workdir: Path, n_trials: int, epochs: int, with_tuner: bool, rounds: int = 3) -> dict:
    """The same N configurations as three whole commands: cnnsweep's sweep, a plain Keras loop
    and KerasTuner, each timed as a user waits for it (start-up, data, report and exit included).

    The three take turns for ``rounds`` rounds and each side's median counts: on this 2-core
    machine one run of any of them moves by a second or more. The trial phases (storage
    timestamps, the plain loop's own clock) are kept as a diagnosis of where the time goes.
    """
    sweep_phases, sweep_walls, plain_phases, plain_walls, tuner_walls, tuner_phases = [], [], [], [], [], []
    configs = workdir / "configs.json"
    tuner_best, tuner_error = None, None
    for round_ in range(rounds):
        sweep_wall, sweep_dir = _sweep(
            workdir,
            f"overhead-{round_}",
            "+sweep=seed_cnn",
            "dataset=digits",
            f"trainer.epochs={epochs}",
            *SAME_TRAINING_AS_PLAIN,
            "hydra/sweeper/sampler=random",
            "hydra/sweeper/pruner=none",
            f"hydra.sweeper.n_trials={n_trials}",
        )
        study = _study(sweep_dir)
        trials = sorted(study.trials, key=lambda t: t.number)
        if round_ == 0:  # the random sampler is seeded: every round tries these configurations
            configs.write_text(json.dumps([t.params for t in trials]))
            sweep_best = max(t.value for t in trials if t.value is not None)
        sweep_phases.append(_trial_phase(study))
        sweep_walls.append(sweep_wall)
        plain_wall, proc = _python(
            "-m", "benchmarks.plain_keras", str(configs), "digits", str(epochs), cwd=REPO
        )
        plain = json.loads(proc.stdout.strip().splitlines()[-1])
        plain_phases.append(plain["wall_seconds"])
        plain_walls.append(plain_wall)
        if with_tuner:
            try:
                tuner_wall, proc = _python(
                    "-m",
                    "benchmarks.keras_tuner_loop",
                    str(configs),
                    "digits",
                    str(epochs),
                    str(workdir / f"kt-{round_}"),
                    cwd=REPO,
                )
            except RuntimeError as exc:
                with_tuner, tuner_error = False, str(exc).splitlines()[0]
                continue
            tuner = json.loads(proc.stdout.strip().splitlines()[-1])
            tuner_walls.append(tuner_wall)
            tuner_phases.append(tuner["wall_seconds"])
            tuner_best = tuner["best_val_acc"]

    def median(values: list[float]) -> float:
        return round(statistics.median(values), 2)

    def per_trial_ms(seconds: float) -> int:
        return round(1000 * seconds / n_trials)

    result = {
        "n_trials": n_trials,
        "epochs": epochs,
        "rounds": rounds,
        "sweep_command_s": median(sweep_walls),
        "plain_command_s": median(plain_walls),
        "sweep_command_runs_s": [round(x, 2) for x in sweep_walls],
        "plain_command_runs_s": [round(x, 2) for x in plain_walls],
        "sweep_trial_phase_s": median(sweep_phases),
        "plain_training_phase_s": median(plain_phases),
    }
    result["command_ratio"] = round(result["sweep_command_s"] / result["plain_command_s"], 3)
    result["command_overhead_ms_per_trial"] = per_trial_ms(
        result["sweep_command_s"] - result["plain_command_s"]
    )
    result["trial_phase_overhead_ms_per_trial"] = per_trial_ms(
        result["sweep_trial_phase_s"] - result["plain_training_phase_s"]
    )
    result["sweep_best_val_acc"] = round(sweep_best, 4)
    result["plain_best_val_acc"] = round(max(r["val_acc"] for r in plain["trials"]), 4)
    if tuner_walls:
        result.update(
            tuner_command_s=median(tuner_walls),
            tuner_command_runs_s=[round(x, 2) for x in tuner_walls],
            tuner_search_s=median(tuner_phases),
            tuner_best_val_acc=round(tuner_best, 4),
        )
        result["tuner_command_ratio"] = round(result["tuner_command_s"] / result["plain_command_s"], 3)
        result["tuner_command_overhead_ms_per_trial"] = per_trial_ms(
            result["tuner_command_s"] - result["plain_command_s"]
        )
    if tuner_error:
        result["tuner_error"] = tuner_error
    return result


# ---------------------------------------------------------------- 2. throughput
def throughput(epochs: int, train_limit: int | None) -> dict:
    """Images per second: cnnsweep's train() against the lesson's own model.fit."""
    _, proc = _python("-m", "benchmarks.throughput", str(epochs), str(train_limit or 0), cwd=REPO)
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- 3. pruning
def pruning(workdir: Path, n_trials: int, epochs: int) -> dict:
    """The same seeded sweep with and without its pruner (seed_cnn's: successive halving)."""
    result: dict = {"n_trials": n_trials, "max_epochs": epochs}
    for pruner in ("none", "pruned"):
        choice = ["hydra/sweeper/pruner=none"] if pruner == "none" else []
        wall, sweep_dir = _sweep(
            workdir,
            f"prune_{pruner}",
            "+sweep=seed_cnn",
            "dataset=digits",
            f"trainer.epochs={epochs}",
            "trainer.early_stopping.patience=3",
            *choice,
            f"hydra.sweeper.n_trials={n_trials}",
        )
        study = _study(sweep_dir)
        epochs_run = sum(int(metrics_of(t).get("epochs_run", 0)) for t in study.trials)
        best = max(
            metrics_of(t).get("objective") or 0
            for t in study.trials
            if metrics_of(t).get("state") == "complete"
        )
        result[pruner] = {
            "epochs_trained": epochs_run,
            "wall_s": round(wall, 1),
            "trial_phase_s": round(_trial_phase(study), 1),
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


# ---------------------------------------------------------------- 4. quality
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
    wall, sweep_dir = _sweep(
        workdir,
        "quality",
        "+sweep=deep_cnn",
        "dataset=fashion_mnist",
        "hydra.sweeper.n_trials=1000",
        f"hydra.sweeper.timeout={int(minutes * 60)}",
        f"hydra.sweeper.n_jobs={n_jobs}",
        *extra,
    )
    study = _study(sweep_dir)
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
            peer_wall, proc = _python("-m", module, *args, cwd=workdir)
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


# ---------------------------------------------------------------- 6. defaults
def defaults(workdir: Path, *extra: str, name: str = "defaults") -> dict:
    """One run with the default model and trainer on real Fashion-MNIST, timed end to end:
    ``python -m cnnsweep dataset=fashion_mnist``."""
    run_dir = workdir / name
    wall, proc = _python(
        "-m",
        "cnnsweep",
        "dataset=fashion_mnist",
        "trainer.quiet=true",
        f"hydra.run.dir={run_dir}",
        *extra,
        cwd=workdir,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the default run failed: {proc.stderr[-2000:]}")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {
        "command_s": round(wall, 1),
        "train_seconds": metrics["train_seconds"],
        "epochs_run": metrics["epochs_run"],
        "best_epoch": metrics["best_epoch"],
        "val_acc": round(metrics["val_acc"], 4),
        "test_acc": round(metrics["test_acc"], 4),
        "params_count": metrics["params_count"],
    }


# ---------------------------------------------------------------- 9. levers
# Benchmark 9's levers toward 0.94: each is benchmark 6's default run with these overrides.
LEVERS = {
    "baseline": (),
    "cutout": ("trainer.augment.cutout=0.25",),
    "flip_test": ("trainer.flip_test=true",),
    "global_pool": ("model.global_pool=true",),
    "all": ("trainer.augment.cutout=0.25", "trainer.flip_test=true"),
}


def levers(workdir: Path, names: list[str], seeds: int, *extra: str) -> dict:
    """Benchmark 6's default run on real Fashion-MNIST with each lever, ``seeds`` seeds each,
    the levers taking turns within each seed; each lever's mean test accuracy against the
    baseline's, with the seed-to-seed spread beside it."""
    names = ["baseline", *[n for n in names if n != "baseline"]]
    runs: dict[str, list[dict]] = {name: [] for name in names}
    for seed in range(seeds):
        for name in names:
            runs[name].append(
                defaults(workdir, f"trainer.seed={seed}", *LEVERS[name], *extra, name=f"lever-{name}-{seed}")
            )
    result: dict = {"seeds": seeds, "levers": {}}
    base = statistics.mean(r["test_acc"] for r in runs["baseline"])
    for name, lever_runs in runs.items():
        accs = [r["test_acc"] for r in lever_runs]
        result["levers"][name] = {
            "overrides": list(LEVERS[name]),
            "test_acc": accs,
            "mean_test_acc": round(statistics.mean(accs), 4),
            "gain_points": round(100 * (statistics.mean(accs) - base), 2),
            "command_s": [r["command_s"] for r in lever_runs],
            "params_count": lever_runs[0]["params_count"],
        }
    return result


# ---------------------------------------------------------------- 10. tracking
TRACKING_SWEEP = (
    "+sweep=deep_cnn",
    "dataset=fashion_mnist",
    "dataset.train_limit=6000",
    "dataset.test_limit=2000",
    "trainer.epochs=3",
    "hydra.sweeper.sampler.seed=0",
)


def tracking(workdir: Path, n_trials: int, rounds: int, *extra: str) -> dict:
    """What ``tracking=mlflow`` costs a trial: the same seeded deep_cnn sweep with and without it,
    whole commands taking turns, the tracked one sending to an ``mlflow server`` on this machine
    (so the server's own work counts against the sweep too)."""
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("mlflow")),
            "server",
            "--backend-store-uri",
            f"sqlite:///{workdir / 'mlflow.db'}",
            "--artifacts-destination",
            str(workdir / "mlflow-artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        for _ in range(360):
            try:
                if urllib.request.urlopen(f"{url}/health", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.5)
        sides: dict[str, list[float]] = {"plain": [], "tracked": []}
        trials: dict[str, list[int]] = {"plain": [], "tracked": []}
        for round_ in range(rounds):
            for side in ("plain", "tracked"):
                overrides = [*TRACKING_SWEEP, f"hydra.sweeper.n_trials={n_trials}", *extra]
                if side == "tracked":
                    overrides += [
                        "tracking=mlflow",
                        f"tracking.uri={url}",
                        f"tracking.experiment=bench{round_}",
                    ]
                wall, sweep_dir = _sweep(workdir, f"tracking-{side}-{round_}", *overrides)
                sides[side].append(round(wall, 1))
                trials[side].append(len([t for t in _study(sweep_dir).trials if t.state.is_finished()]))
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and its web workers
        server.wait()
    plain, tracked = statistics.median(sides["plain"]), statistics.median(sides["tracked"])
    per_trial_s = plain / n_trials
    cost_ms = 1000 * (tracked - plain) / n_trials
    return {
        "n_trials": n_trials,
        "rounds": rounds,
        "plain_command_s": sides["plain"],
        "tracked_command_s": sides["tracked"],
        "finished_trials": trials,
        "trial_s": round(per_trial_s, 2),
        "tracking_ms_per_trial": round(cost_ms),
        "tracking_share_pct": round(100 * cost_ms / 1000 / per_trial_s, 2),
    }


# ---------------------------------------------------------------- 5. scaling
SCALING_BUDGET_S = 200  # each whole command runs at least three minutes


def scaling(workdir: Path, epochs: int, *, seconds: int | None = None, n_trials: int = 100_000) -> dict:
    """Trials per hour of whole sweep commands with n_jobs=1 and n_jobs=2, each given the same
    time budget (hydra.sweeper.timeout) and more trials than fit in it: the figure a user gets,
    workers' start-up, the deadline's last trials and the report included. (Without a budget,
    each command runs ``n_trials``: the quick check.)"""
    result: dict = {"budget_s": seconds, "epochs": epochs}
    budget = [f"hydra.sweeper.timeout={seconds}"] if seconds else []
    for n_jobs in (1, 2):
        wall, sweep_dir = _sweep(
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
        study = _study(sweep_dir)
        finished = sum(metrics_of(t).get("state") == "complete" for t in study.trials)
        phase = _trial_phase(study)
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


# ---------------------------------------------------------------- 7. trust
def trust(workdir: Path, n_trials: int, epochs: int, top_k: int, seeds: int, *extra: str) -> dict:
    """The winner's curse on real Fashion-MNIST: a seed_cnn sweep whose top configurations are
    confirmed with new seeds. Is the single-run winner the confirmed one, how much does its
    single run overstate it, how large is the seed-to-seed noise, and what did it cost?"""
    import itertools

    import pandas as pd

    wall, sweep_dir = _sweep(
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
    study = _study(sweep_dir)
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


# ---------------------------------------------------------------- 11. why
def why(workdir: Path, n_trials: int, epochs: int, seeds: int, *extra: str) -> dict:
    """Why is the best configuration best, on real Fashion-MNIST: a seed_cnn sweep (pruned by
    successive halving) with its ablation path from the lesson's model to the best. Which
    changes explain the gain, with their intervals, what the path cost, and how far the
    pruner's early epochs could be trusted."""
    import pandas as pd
    import yaml

    wall, sweep_dir = _sweep(
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
    study = _study(sweep_dir)
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


# ---------------------------------------------------------------- 8. gpu
GPU_SCALING_BUDGET_S = 120  # each of benchmark 8's two sharing commands


def _steady_epoch_s(sweep_dir: Path) -> float | None:
    """The median epoch time after each trial's first (which JAX spends compiling)."""
    times = []
    for metrics_file in sweep_dir.glob("*/metrics.json"):
        metrics = json.loads(metrics_file.read_text())
        if metrics.get("status") == "complete" and int(metrics.get("epochs_run") or 0) > 1:
            rest = float(metrics["train_seconds"]) - float(metrics["first_epoch_seconds"])
            times.append(rest / (int(metrics["epochs_run"]) - 1))
    return round(statistics.median(times), 3) if times else None


def _first_epoch_s(sweep_dir: Path) -> float | None:
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
    result: dict = {"jobs": jobs, "scaling_budget_s": scaling_seconds, "device": _gpu_name()}
    for n_jobs in (1, jobs):
        wall, sweep_dir = _sweep(
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
        study = _study(sweep_dir)
        complete = sum(metrics_of(t).get("state") == "complete" for t in study.trials)
        result.setdefault(
            "backends",
            sorted({json.loads(f.read_text()).get("backend") for f in sweep_dir.glob("*/metrics.json")}),
        )
        result[f"n_jobs={n_jobs}"] = {
            "wall_s": round(wall, 1),
            "complete": complete,
            "trials_per_hour": round(3600 * complete / wall),
            "first_epoch_s": _first_epoch_s(sweep_dir),
            "steady_epoch_s": _steady_epoch_s(sweep_dir),
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


def _gpu_name() -> str | None:
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


# ---------------------------------------------------------------- results
def machine() -> dict:
    import importlib.metadata as md

    def version(name: str) -> str | None:
        try:
            return md.version(name)
        except md.PackageNotFoundError:  # the GPU machine trains with JAX and has no TensorFlow
            return None

    versions = {name: version(name) for name in ("tensorflow", "jax", "keras", "optuna", "hydra-core")}
    return {
        "date": datetime.now().isoformat(timespec="minutes"),
        "cpu_cores": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "processor": _cpu_name(),
        **versions,
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _quality_run(result: dict) -> dict:
    """One run of benchmark 4 as its spread over runs keeps it: each side's best test accuracy."""
    sides = {"cnnsweep": result["best_test_acc"]}
    sides.update(
        {name: peer["best_test_acc"] for name, peer in result["peers"].items() if "best_test_acc" in peer}
    )
    return {"date": result["machine"]["date"], "minutes": result["minutes"], "best_test_acc": sides}


def _recorded_quality_runs(results_dir: Path) -> list[dict]:
    store = results_dir / "results.json"
    return json.loads(store.read_text()).get("quality_runs", []) if store.exists() else []


def write_results(results_dir: Path, updates: dict) -> Path:
    from benchmarks.report import render

    results_dir.mkdir(parents=True, exist_ok=True)
    store = results_dir / "results.json"
    data = json.loads(store.read_text()) if store.exists() else {}
    data.update(updates)
    store.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    target = results_dir / "RESULTS.md"
    target.write_text(render(data))
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument(
        "which",
        nargs="*",
        metavar="BENCHMARK",
        help="overhead, throughput, pruning, quality, scaling, defaults, trust, gpu, "
        "levers, tracking (default: the first three)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny settings: checks that each runs")
    parser.add_argument("--results", type=Path, default=HERE, help="where results.json/RESULTS.md go")
    parser.add_argument("--minutes", type=float, default=20.0, help="benchmark 4's time box")
    parser.add_argument(
        "--no-tuner", action="store_true", help="skip KerasTuner in benchmark 1 and every peer in benchmark 4"
    )
    parser.add_argument(
        "--peers",
        nargs="*",
        default=[name for name, _, _ in PEERS],
        metavar="PEER",
        choices=[name for name, _, _ in PEERS],
        help="benchmark 4's peers to run (default: all four)",
    )
    parser.add_argument("--gpu-jobs", type=int, default=4, help="benchmark 8: workers sharing the GPU")
    parser.add_argument(
        "--levers",
        nargs="*",
        default=[n for n in LEVERS if n != "baseline"],
        metavar="LEVER",
        choices=list(LEVERS),
        help="benchmark 9's levers (default: each on its own)",
    )
    parser.add_argument("--seeds", type=int, default=2, help="benchmark 9: seeds per lever")
    parser.add_argument("--gpu-minutes", type=float, default=15.0, help="benchmark 8's deep_cnn time box")
    args = parser.parse_args(argv)
    known = (
        "overhead",
        "throughput",
        "pruning",
        "quality",
        "scaling",
        "defaults",
        "trust",
        "gpu",
        "levers",
        "tracking",
        "why",
    )
    if unknown := [w for w in args.which if w not in known]:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(known)}")
    args.which = args.which or list(known[:3])
    quick = args.quick
    updates: dict = {}
    with tempfile.TemporaryDirectory(prefix="cnnsweep-bench-") as tmp:
        workdir = Path(tmp)
        for which in args.which:
            started = time.perf_counter()
            print(f"benchmark {which} ...", flush=True)
            if which == "overhead":
                result = overhead(
                    workdir,
                    2 if quick else 30,
                    1 if quick else 2,
                    with_tuner=not (quick or args.no_tuner),
                    rounds=1 if quick else 3,
                )
            elif which == "throughput":
                result = throughput(1 if quick else 2, 2000 if quick else 20000)
            elif which == "pruning":
                result = pruning(workdir, 2 if quick else 20, 2 if quick else 10)
            elif which == "quality":
                tiny = ("dataset.train_limit=1000", "dataset.test_limit=500", "trainer.epochs=2")
                # The quick budget leaves time for a trial after the 5 s kept for the report.
                result = quality(
                    workdir,
                    0.5 if quick else args.minutes,
                    1,
                    *(tiny if quick else ()),
                    peers=() if args.no_tuner else tuple(args.peers),
                    peer_minutes=0.1 if quick else None,
                )
            elif which == "defaults":
                tiny = ("dataset.train_limit=1000", "dataset.test_limit=500", "trainer.epochs=1")
                result = defaults(workdir, *(tiny if quick else ()))
            elif which == "trust":
                tiny = ("dataset=digits", "dataset.train_limit=400", "dataset.test_limit=100")
                full = ("dataset.train_limit=12000",)  # 9,600 training and 2,400 validation images
                result = trust(
                    workdir,
                    4 if quick else 16,
                    1 if quick else 5,
                    2 if quick else 3,
                    1 if quick else 3,
                    *(tiny if quick else full),
                )
            elif which == "why":
                tiny = ("dataset=digits", "dataset.train_limit=400", "dataset.test_limit=100")
                full = ("dataset.train_limit=12000",)  # 9,600 training and 2,400 validation images
                result = why(
                    workdir,
                    4 if quick else 16,
                    1 if quick else 5,
                    1 if quick else 2,
                    *(tiny if quick else full),
                )
            elif which == "levers":
                tiny = ("dataset.train_limit=1000", "dataset.test_limit=500", "trainer.epochs=1")
                result = (
                    levers(workdir, ["cutout"], 1, *tiny)
                    if quick
                    else levers(workdir, args.levers, args.seeds)
                )
            elif which == "tracking":
                tiny = ("dataset.train_limit=600", "dataset.test_limit=200", "trainer.epochs=1")
                result = tracking(workdir, 2, 1, *tiny) if quick else tracking(workdir, 8, 2)
            elif which == "gpu":
                # --quick: the whole JAX path on this machine's CPU, tiny (the tests use it).
                tiny = ("dataset.train_limit=400", "dataset.test_limit=100", "trainer.epochs=1")
                result = (
                    gpu(workdir, 2, None, 0.5, "dataset=digits", *tiny, scaling_trials=2)
                    if quick
                    else gpu(
                        workdir,
                        args.gpu_jobs,
                        GPU_SCALING_BUDGET_S,
                        args.gpu_minutes,
                        "dataset=fashion_mnist",
                    )
                )
            else:
                result = (
                    scaling(workdir, 1, n_trials=2)
                    if quick
                    else scaling(workdir, 3, seconds=SCALING_BUDGET_S)
                )
            result["machine"] = machine()
            result["seconds"] = round(time.perf_counter() - started, 1)
            updates[which] = result
            print(json.dumps(result, indent=2), flush=True)
    if "quality" in updates and not quick:
        updates["quality_runs"] = _recorded_quality_runs(args.results) + [_quality_run(updates["quality"])]
    target = write_results(args.results, updates)
    print(f"results: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
