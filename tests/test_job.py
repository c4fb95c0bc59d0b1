"""One trial as a job: what goes wrong becomes its status, and its metrics come back as a value."""

from __future__ import annotations

import json

import pytest

from cnnsweep import job, run_files
from cnnsweep.errors import DataError
from cnnsweep.hooks import TrialHooks


def test_a_complete_trial_returns_what_metrics_json_holds(tiny_config, tmp_path, monkeypatch):
    metrics = job.run_trial(tiny_config, tmp_path, 7, TrialHooks())
    assert metrics["status"] == "complete" and metrics["trial_number"] == 7
    assert json.loads((tmp_path / run_files.METRICS_FILE).read_text()) == json.loads(json.dumps(metrics))


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("model", {"kernel_size": 9, "padding": "valid"}, "model.kernel_size=9 does not fit"),
        ("trainer", {"batch_size": 0}, "trainer.batch_size=0 must be a positive integer"),
    ],
)
def test_a_config_no_model_can_have_is_infeasible_without_training(
    tiny_config, tmp_path, monkeypatch, key, value, fragment
):
    import cnnsweep.training

    monkeypatch.setattr(cnnsweep.training, "train", lambda *a, **k: pytest.fail("must not train"))
    tiny_config[key].update(value)
    metrics = job.run_trial(tiny_config, tmp_path, 3, TrialHooks())
    assert metrics["status"] == "infeasible" and fragment in metrics["error"]
    assert json.loads((tmp_path / run_files.METRICS_FILE).read_text())["status"] == "infeasible"


def test_data_that_cannot_be_read_fails_the_trial(tiny_config, tmp_path, monkeypatch):
    import cnnsweep.training

    def missing(*args, **kwargs):
        raise DataError("dataset mnist was not found")

    monkeypatch.setattr(cnnsweep.training, "train", missing)
    metrics = job.run_trial(tiny_config, tmp_path, 1, TrialHooks())
    assert metrics == {
        "status": "failed",
        "objective": None,
        "error": "dataset mnist was not found",
        "trial_number": 1,
    }


def test_a_failed_training_returns_the_metrics_it_recorded(tiny_config, tmp_path):
    tiny_config["trainer"]["learning_rate"] = 1e12  # the loss diverges
    metrics = job.run_trial(tiny_config, tmp_path, 2, TrialHooks())
    assert metrics["status"] == "failed" and "NaN" in metrics["error"]
    assert metrics["epochs_run"] >= 1  # the training's own record, with its history
