"""Benchmark 1: cnnsweep's overhead per trial against a plain Keras loop and KerasTuner, same training."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from benchmarks.measure.common import (
    REPO,
    SAME_TRAINING_AS_PLAIN,
    open_study,
    run_python,
    run_sweep,
    trial_phase_s,
)


def paired_overheads(walls: list[float], plain_walls: list[float], n_trials: int) -> list[int]:
    """Each round's whole command minus that round's plain loop, in ms per trial: the sides take
    turns, so a round's pair shares the machine's speed of the moment (a side that ran in fewer
    rounds pairs with the first of the plain loop's)."""
    return [round(1000 * (ours - plain) / n_trials) for ours, plain in zip(walls, plain_walls, strict=False)]


def overhead(workdir: Path, n_trials: int, epochs: int, with_tuner: bool, rounds: int = 5) -> dict:
    """The same N configurations as three whole commands: cnnsweep's sweep, a plain Keras loop
    and KerasTuner, each timed as a user waits for it (start-up, data, report and exit included).

    The three take turns for ``rounds`` rounds; each round's sweep (and KerasTuner) is set
    against that round's plain loop, and the median of those paired differences counts: on
    this 2-core machine one run of any of them moves by a second or more, and the machine's
    speed drifts between rounds. The trial phases (storage timestamps, the plain loop's own
    clock) are kept as a diagnosis of where the time goes.
    """
    sweep_phases, sweep_walls, plain_phases, plain_walls, tuner_walls, tuner_phases = [], [], [], [], [], []
    configs = workdir / "configs.json"
    tuner_best, tuner_error, tuner_tested = None, None, 0
    for round_ in range(rounds):
        sweep_wall, sweep_dir = run_sweep(
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
        study = open_study(sweep_dir)
        trials = sorted(study.trials, key=lambda t: t.number)
        if round_ == 0:  # the random sampler is seeded: every round tries these configurations
            configs.write_text(json.dumps([t.params for t in trials]))
            sweep_best = max(t.value for t in trials if t.value is not None)
        sweep_phases.append(trial_phase_s(study))
        sweep_walls.append(sweep_wall)
        plain_wall, proc = run_python(
            "-m", "benchmarks.plain_keras", str(configs), "digits", str(epochs), cwd=REPO
        )
        plain = json.loads(proc.stdout.strip().splitlines()[-1])
        plain_phases.append(plain["wall_seconds"])
        plain_walls.append(plain_wall)
        if with_tuner:
            try:
                tuner_wall, proc = run_python(
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
            tuner_tested = tuner["tested_trials"]

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
        "round_overheads_ms_per_trial": paired_overheads(sweep_walls, plain_walls, n_trials),
        "round_ratios": [
            round(ours / plain, 3) for ours, plain in zip(sweep_walls, plain_walls, strict=True)
        ],
    }
    result["command_overhead_ms_per_trial"] = round(statistics.median(result["round_overheads_ms_per_trial"]))
    result["command_ratio"] = round(statistics.median(result["round_ratios"]), 3)
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
            tuner_tested_trials=tuner_tested,
            tuner_round_overheads_ms_per_trial=paired_overheads(tuner_walls, plain_walls, n_trials),
        )
        result["tuner_command_ratio"] = round(
            statistics.median(ours / plain for ours, plain in zip(tuner_walls, plain_walls, strict=False)), 3
        )
        result["tuner_command_overhead_ms_per_trial"] = round(
            statistics.median(result["tuner_round_overheads_ms_per_trial"])
        )
    if tuner_error:
        result["tuner_error"] = tuner_error
    return result
