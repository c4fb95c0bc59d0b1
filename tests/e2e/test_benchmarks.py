"""The benchmarks are not timed tests: these only check each one runs, tiny.

Benchmark 4 alone works to a time box (a sweep of seconds and its peers), so it runs
as a ``timed`` test, with no other test beside it; the rest run two tests at a time.
"""

import pytest

from tests.e2e.quick_benchmarks import CHECKS, UNBOXED, check_quick, run_quick, section


# Benchmarks 1-3, one case each (a file of its own, so both workers of make test-heavy share them).
@pytest.mark.slow
@pytest.mark.heavy
@pytest.mark.parametrize("which", ("overhead", "throughput", "pruning"))
def test_each_runs_on_a_tiny_setting(tmp_path, which):
    check_quick(tmp_path, which)


def test_every_unboxed_benchmark_has_a_check_and_a_case():
    from tests.e2e import test_benchmarks_5_to_7, test_benchmarks_9_to_11

    cases = [
        name
        for test in (
            test_each_runs_on_a_tiny_setting,
            test_benchmarks_5_to_7.test_each_runs_on_a_tiny_setting,
            test_benchmarks_9_to_11.test_each_runs_on_a_tiny_setting,
        )
        for mark in test.pytestmark
        if mark.name == "parametrize"
        for name in mark.args[1]
    ]
    assert sorted(cases) == sorted(UNBOXED) == sorted(CHECKS)


@pytest.mark.slow
@pytest.mark.heavy
@pytest.mark.timed  # a sweep boxed to 45 seconds, its peers to 9
def test_the_time_to_quality_benchmark_runs_on_a_tiny_setting(tmp_path):
    # Three of benchmark 4's peers: each peer script once, each recipe once.
    peers = ("keras_tuner_cnnsweep_recipe", "optuna_plain", "train_longer")
    results = run_quick(tmp_path, "quality", peers=peers)
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
    assert "No completed run recorded" not in section((tmp_path / "RESULTS.md").read_text(), "quality")
