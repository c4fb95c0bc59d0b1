"""The benchmarks are not timed tests: this only checks each one runs, tiny."""

import json

import pytest

from benchmarks.run import main


@pytest.mark.slow
@pytest.mark.heavy
@pytest.mark.timed  # benchmark 4's sweep and peers get budgets of seconds
def test_every_benchmark_runs_on_a_tiny_setting(tmp_path):
    # Three of benchmark 4's peers: each peer script once, each recipe once.
    assert (
        main(
            [
                "overhead",
                "throughput",
                "pruning",
                "quality",
                "scaling",
                "defaults",
                "trust",
                "levers",
                "tracking",
                "why",
                "--quick",
                "--results",
                str(tmp_path),
                "--peers",
                "keras_tuner_cnnsweep_recipe",
                "optuna_plain",
                "train_longer",
            ]
        )
        == 0
    )
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results) - {"quality_runs"} == {
        "overhead",
        "throughput",
        "pruning",
        "quality",
        "scaling",
        "defaults",
        "trust",
        "levers",
        "tracking",
        "why",
    }
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
    quality = results["quality"]
    assert 0 <= quality["best_test_acc"] <= 1
    assert set(quality["peers"]) == {"keras_tuner_cnnsweep_recipe", "optuna_plain", "train_longer"}
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
    scaling = results["scaling"]
    assert scaling["n_jobs=2"]["complete"] == 2 and scaling["command_speedup"] > 0
    assert scaling["same_configurations"] == 2  # both sides ran the list's first two
    commands = {results[name]["command"] for name in results if name != "quality_runs"}
    assert len(commands) == 1 and commands.pop().startswith("python -m benchmarks.run overhead")
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
    page = (tmp_path / "RESULTS.md").read_text()
    for title in (
        "1. Framework overhead per trial",
        "2. Training throughput",
        "3. Pruning and early stopping",
        "4. Time to quality",
        "5. Parallel scaling",
        "6. A good single run by default",
        "7. Trust: the winner's curse",
        "9. Levers toward 0.94",
        "10. The cost of MLflow tracking",
        "11. Why is the best configuration best?",
    ):
        assert title in page
    assert "No completed run recorded" not in page
