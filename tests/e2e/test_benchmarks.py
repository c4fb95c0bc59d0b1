"""The benchmarks are not timed tests: these only check each one runs, tiny.

Benchmark 4 alone works to a time box (a sweep of seconds and its peers), so it runs
as a ``timed`` test, with no other test beside it; the rest run two tests at a time.
"""

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


def _run_quick(tmp_path, *which: str, peers: tuple[str, ...] = ()) -> dict:
    """``python -m benchmarks.run WHICH --quick``; its results.json, checked for one command."""
    argv = [*which, "--quick", "--results", str(tmp_path), *(["--peers", *peers] if peers else [])]
    assert main(argv) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results) - {"quality_runs"} == set(which)
    commands = {results[name]["command"] for name in which}
    assert commands == {"python -m benchmarks.run " + " ".join(argv)}
    page = (tmp_path / "RESULTS.md").read_text()
    for name in which:
        assert TITLES[name] in page
    return results


def _section(page: str, name: str) -> str:
    """The text of benchmark ``name``'s section of RESULTS.md, up to the next section."""
    return page.split(f"## {TITLES[name]}", 1)[1].split("\n## ", 1)[0]


@pytest.mark.slow
@pytest.mark.heavy
def test_every_benchmark_but_the_time_boxed_one_runs_on_a_tiny_setting(tmp_path):
    results = _run_quick(tmp_path, *UNBOXED)
    page = (tmp_path / "RESULTS.md").read_text()
    # The one section without a run is benchmark 4's, which this command did not run.
    assert page.count("No completed run recorded") == 1
    assert "No completed run recorded" in _section(page, "quality")
    assert results["why"]["path_runs"] >= 1 and 0 < results["why"]["path_share_of_training"] < 1
    tracking = results["tracking"]
    assert tracking["finished_trials"] == {"plain": [2], "tracked": [2]}
    # The share is of a trial's own time, less than the whole command's time per trial.
    assert 0 < tracking["trial_own_s"] < tracking["command_s_per_trial"]
    assert tracking["tracking_share_pct"] == pytest.approx(
        100 * tracking["tracking_ms_per_trial"] / 1000 / tracking["trial_own_s"], abs=0.5
    )
    levers = results["levers"]["levers"]
    assert set(levers) == {"baseline", "cutout"} and levers["baseline"]["gain_points"] == 0.0
    assert levers["cutout"]["overrides"] == ["trainer.augment.cutout=0.25"]
    assert results["overhead"]["n_trials"] == 2 and results["overhead"]["plain_training_phase_s"] > 0
    assert results["throughput"]["cnnsweep_images_per_s"] > 0
    assert results["pruning"]["none"]["epochs_trained"] > 0
    scaling = results["scaling"]
    assert scaling["n_jobs=2"]["complete"] == 2 and scaling["command_speedup"] > 0
    assert scaling["same_configurations"] == 2  # both sides ran the list's first two
    overhead = results["overhead"]
    # One round: the figure is that round's pair, from the unrounded times (runs keep 0.01 s).
    [paired] = overhead["round_overheads_ms_per_trial"]
    assert overhead["command_overhead_ms_per_trial"] == paired
    assert paired == pytest.approx(
        1000 * (overhead["sweep_command_runs_s"][0] - overhead["plain_command_runs_s"][0]) / 2, abs=6
    )
    assert 0 <= results["defaults"]["test_acc"] <= 1 and results["defaults"]["command_s"] > 0
    trust = results["trust"]
    assert trust["confirm_runs"] >= 1 and 0 <= trust["single_run_picks_confirmed_winner"] <= 1


@pytest.mark.slow
@pytest.mark.heavy
@pytest.mark.timed  # a sweep boxed to 45 seconds, its peers to 9
def test_the_time_to_quality_benchmark_runs_on_a_tiny_setting(tmp_path):
    # Three of benchmark 4's peers: each peer script once, each recipe once.
    peers = ("keras_tuner_cnnsweep_recipe", "optuna_plain", "train_longer")
    results = _run_quick(tmp_path, "quality", peers=peers)
    quality = results["quality"]
    assert 0 <= quality["best_test_acc"] <= 1
    assert set(quality["peers"]) == set(peers)
    for name, peer in quality["peers"].items():
        assert 0 <= peer["best_test_acc"] <= 1 and peer["trials"] >= 1 and peer["wall_s"] > 0, (name, peer)
    assert quality["peers"]["optuna_plain"]["recipe"] == "plain"
    assert set(quality["lead_points"]) == set(quality["peers"])
    assert quality["answer"] in ("refit", "best trial") and "hydra.sweeper.refit=true" in quality["flags"]
    assert quality["peers"]["train_longer"]["epochs_trained"] >= 1
    [round_] = results["quality_runs"]
    # The quick sweep has one worker: its round counts for that side, not the two-worker one.
    assert quality["side"] == "cnnsweep_n_jobs_1" and quality["n_jobs"] == 1
    assert round_["protocol"] == quality["protocol"] and set(round_["test_acc"]) == {
        "cnnsweep_n_jobs_1",
        *quality["peers"],
    }
    assert "No completed run recorded" not in _section((tmp_path / "RESULTS.md").read_text(), "quality")
