"""Benchmark 5: trials per hour with n_jobs 1 and 2, both sides on one list of configurations."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

from benchmarks.measure.common import REPO, open_study, run_sweep, trial_phase_s
from cnnsweep.sweep.study.records import metrics_of

SCALING_BUDGET_S = 200  # each whole command runs at least three minutes
SCALING_SWEEP = "seed_cnn"


def configurations(seed: int = 0) -> list[dict]:
    """Every configuration of seed_cnn's space (all its values are choices), in one seeded order."""
    import yaml

    from cnnsweep.sweep.settings.space import parse_search_space

    sweep = yaml.safe_load((REPO / "sweeps" / f"{SCALING_SWEEP}.yaml").read_text())
    space = parse_search_space(sweep["hydra"]["sweeper"]["params"], [])
    keys = list(space.distributions)
    grid = [
        dict(zip(keys, values, strict=True))
        for values in itertools.product(*(space.distributions[key].choices for key in keys))
    ]
    random.Random(seed).shuffle(grid)
    return grid


def baselines_override(configs: list[dict]) -> str:
    """The configurations as ``hydra.sweeper.baselines``: the sweep queues them first, in order."""
    items = ",".join("{" + ",".join(f"{key}:{value}" for key, value in c.items()) + "}" for c in configs)
    return f"hydra.sweeper.baselines=[{items}]"


def scaling(workdir: Path, epochs: int, *, seconds: int | None = None, n_trials: int = 100_000) -> dict:
    """Trials per hour of whole sweep commands with n_jobs=1 and n_jobs=2, each given the same
    time budget (hydra.sweeper.timeout) and more trials than fit in it: the figure a user gets,
    workers' start-up, the deadline's last trials and the report included. (Without a budget,
    each command runs ``n_trials``: the quick check.)

    Both sides take seed_cnn's configurations from one seeded list, queued in order, so a
    side's trials are the list's first ones whatever its speed: ``same_configurations`` counts
    how many of the first list entries both sides completed.
    """
    configs = configurations()
    result: dict = {"budget_s": seconds, "epochs": epochs, "configurations": len(configs)}
    budget = [f"hydra.sweeper.timeout={seconds}"] if seconds else []
    tried: dict[int, list[dict]] = {}
    for n_jobs in (1, 2):
        wall, sweep_dir = run_sweep(
            workdir,
            f"jobs{n_jobs}",
            f"+sweep={SCALING_SWEEP}",
            "dataset=digits",
            f"trainer.epochs={epochs}",
            "hydra/sweeper/pruner=none",
            f"hydra.sweeper.n_trials={min(n_trials, len(configs))}",
            baselines_override(configs),
            *budget,
            f"hydra.sweeper.n_jobs={n_jobs}",
        )
        study = open_study(sweep_dir)
        complete = [t for t in study.trials if metrics_of(t).get("state") == "complete"]
        tried[n_jobs] = [t.params for t in complete]
        phase = trial_phase_s(study)
        result[f"n_jobs={n_jobs}"] = {
            "wall_s": round(wall, 1),
            "complete": len(complete),
            "trials_per_hour": round(3600 * len(complete) / wall),
            "trial_phase_s": round(phase, 1),
            "trial_phase_trials_per_hour": round(3600 * len(complete) / phase),
        }
    result["same_configurations"] = sum(
        1 for _ in itertools.takewhile(lambda c: all(c in tried[n] for n in (1, 2)), configs)
    )
    jobs1, jobs2 = result["n_jobs=1"], result["n_jobs=2"]
    result["command_speedup"] = round(jobs2["trials_per_hour"] / jobs1["trials_per_hour"], 2)
    result["trial_phase_speedup"] = round(
        jobs2["trial_phase_trials_per_hour"] / jobs1["trial_phase_trials_per_hour"], 2
    )
    return result
