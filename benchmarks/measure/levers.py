"""Benchmark 9: the default run with each lever toward the target accuracy, over seeds."""

from __future__ import annotations

import statistics
from pathlib import Path

from benchmarks.measure.defaults import defaults
from benchmarks.measure.results import recorded

# Benchmark 9's levers toward 0.94: each is benchmark 6's default run with these overrides.
LEVERS = {
    "baseline": (),
    "cutout": ("trainer.augment.cutout=0.25",),
    "flip_test": ("trainer.flip_test=true",),
    "global_pool": ("model.global_pool=true",),
    "average": ("trainer.average_epochs=5",),
    # a residual block on the default model (one conv per block), and on blocks of two convs
    # beside the same depth without it: what the skip connection buys apart from the depth
    "residual": ("model.residual=true",),
    "deep": ("model.convs_per_block=2",),
    "deep_residual": ("model.convs_per_block=2", "model.residual=true"),
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
        if all("averaged" in r for r in lever_runs):  # whether each seed kept the mean of its last epochs
            result["levers"][name]["average_kept"] = [r["averaged"]["kept"] for r in lever_runs]
    return result


def recorded_lever_runs(results_dir: Path) -> list[dict]:
    """Every benchmark 9 run recorded so far, oldest first: each compares its levers with a
    baseline of its own machine, so a run on another machine adds to them, never replaces."""
    data = recorded(results_dir)
    return data.get("lever_runs") or ([data["levers"]] if "levers" in data else [])
