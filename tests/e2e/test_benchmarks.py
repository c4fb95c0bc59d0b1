"""The benchmarks are not timed tests: this only checks each one runs, tiny."""

import json

import pytest

from benchmarks.run import main


@pytest.mark.slow
def test_every_benchmark_runs_on_a_tiny_setting(tmp_path):
    assert main(["overhead", "throughput", "pruning", "quality", "scaling", "defaults", "trust", "--quick",
                 "--results", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results) == {"overhead", "throughput", "pruning", "quality", "scaling", "defaults", "trust"}
    assert results["overhead"]["n_trials"] == 2 and results["overhead"]["plain_training_phase_s"] > 0
    assert results["throughput"]["cnnsweep_images_per_s"] > 0
    assert results["pruning"]["none"]["epochs_trained"] > 0
    assert 0 <= results["quality"]["best_test_acc"] <= 1
    assert results["scaling"]["n_jobs=2"]["trials_per_hour"] > 0
    assert 0 <= results["defaults"]["test_acc"] <= 1 and results["defaults"]["command_s"] > 0
    trust = results["trust"]
    assert trust["confirm_runs"] >= 1 and 0 <= trust["single_run_picks_confirmed_winner"] <= 1
    page = (tmp_path / "RESULTS.md").read_text()
    for title in ("1. Framework overhead per trial", "2. Training throughput",
                  "3. Pruning and early stopping", "4. Time to quality", "5. Parallel scaling",
                  "6. A good single run by default", "7. Trust: the winner's curse"):
        assert title in page
    assert "No completed run recorded" not in page
