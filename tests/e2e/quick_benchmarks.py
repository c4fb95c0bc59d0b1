"""What the benchmark tests share: a benchmark's quick run, and what each unboxed one must
have measured. The cases are spread over three test files so that `make test-heavy`'s two
workers (two test files at a time) share them."""

import json

import pytest

from benchmarks.run import main

UNBOXED = ("overhead", "throughput", "pruning", "scaling", "defaults", "trust", "levers", "tracking", "why")
TITLES = {
    "overhead": "1. Framework overhead per trial",
    "throughput": "2. Training throughput",
    "pruning": "3. Pruning and early stopping",
    "quality": "4. Time to quality",
    "scaling": "5. Parallel scaling",
    "defaults": "6. A good single run by default",
    "trust": "7. Trust: the winner's curse",
    "levers": "9. Levers toward 0.94",
    "tracking": "10. The cost of MLflow tracking",
    "why": "11. Why is the best configuration best?",
}


def run_quick(tmp_path, *which: str, peers: tuple[str, ...] = ()) -> dict:
    """``python -m benchmarks.run WHICH --quick``; its results.json, checked for one command."""
    argv = [*which, "--quick", "--results", str(tmp_path), *(["--peers", *peers] if peers else [])]
    assert main(argv) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results) - {"quality_runs", "lever_runs"} == set(which)
    commands = {results[name]["command"] for name in which}
    assert commands == {"python -m benchmarks.run " + " ".join(argv)}
    page = (tmp_path / "RESULTS.md").read_text()
    for name in which:
        assert TITLES[name] in page
    return results


def section(page: str, name: str) -> str:
    """The text of benchmark ``name``'s section of RESULTS.md, up to the next section."""
    return page.split(f"## {TITLES[name]}", 1)[1].split("\n## ", 1)[0]


def _overhead(overhead: dict) -> None:
    assert overhead["n_trials"] == 2 and overhead["plain_training_phase_s"] > 0
    # One round: the figure is that round's pair, from the unrounded times (runs keep 0.01 s).
    [paired] = overhead["round_overheads_ms_per_trial"]
    assert overhead["command_overhead_ms_per_trial"] == paired
    assert paired == pytest.approx(
        1000 * (overhead["sweep_command_runs_s"][0] - overhead["plain_command_runs_s"][0]) / 2, abs=6
    )


def _tracking(tracking: dict) -> None:
    assert tracking["finished_trials"] == {"plain": [2], "tracked": [2]}
    # The share is of a trial's own time, less than the whole command's time per trial.
    assert 0 < tracking["trial_own_s"] < tracking["command_s_per_trial"]
    assert tracking["tracking_share_pct"] == pytest.approx(
        100 * tracking["tracking_ms_per_trial"] / 1000 / tracking["trial_own_s"], abs=0.5
    )


def _levers(result: dict) -> None:
    levers = result["levers"]
    assert set(levers) == {"baseline", "average"} and levers["baseline"]["gain_points"] == 0.0
    assert levers["average"]["overrides"] == ["trainer.average_epochs=5"]
    # One epoch: the mean of the last epochs is that epoch's weights, which validate as well.
    assert levers["average"]["average_kept"] == [True] and "average_kept" not in levers["baseline"]


def _scaling(scaling: dict) -> None:
    assert scaling["n_jobs=2"]["complete"] == 2 and scaling["command_speedup"] > 0
    assert scaling["same_configurations"] == 2  # both sides ran the list's first two


def _throughput(throughput: dict) -> None:
    assert throughput["cnnsweep_images_per_s"] > 0


def _pruning(pruning: dict) -> None:
    assert pruning["none"]["epochs_trained"] > 0


def _defaults(run: dict) -> None:
    assert 0 <= run["test_acc"] <= 1 and run["command_s"] > 0


def _trust(trust: dict) -> None:
    assert trust["confirm_runs"] >= 1 and 0 <= trust["single_run_picks_confirmed_winner"] <= 1


def _why(why: dict) -> None:
    assert why["path_runs"] >= 1 and 0 < why["path_share_of_training"] < 1


# What each unboxed benchmark's quick run must have measured.
CHECKS = {
    "overhead": _overhead,
    "throughput": _throughput,
    "pruning": _pruning,
    "scaling": _scaling,
    "defaults": _defaults,
    "trust": _trust,
    "levers": _levers,
    "tracking": _tracking,
    "why": _why,
}


def check_quick(tmp_path, which: str) -> None:
    """Benchmark ``which``'s quick run: its section shows a run, benchmark 4's says it has
    none (instead of an old figure), and its results hold what :data:`CHECKS` asks."""
    results = run_quick(tmp_path, which)
    page = (tmp_path / "RESULTS.md").read_text()
    assert "No completed run recorded" not in section(page, which)
    assert "No completed run recorded" in section(page, "quality")
    CHECKS[which](results[which])
