"""The exporter never raises and never holds a trial up: an unreachable tracker costs one
warning, then nothing for a while, and every call not made is counted."""

from __future__ import annotations

import time

import pytest

from cnnsweep.config import dotted_keys
from cnnsweep.errors import ConfigError
from cnnsweep.tracking import TrackingSettings, tracking_settings

pytest.importorskip("mlflow")
from cnnsweep.tracking import mlflow_exporter as mx  # noqa: E402


def test_an_unreachable_server_costs_a_warning_and_nothing_raises(tmp_path, caplog, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    exporter = mx.MlflowExporter(TrackingSettings(uri="http://user:secret@127.0.0.1:9", experiment="x"), "x")
    started = time.monotonic()
    with caplog.at_level("WARNING", logger="cnnsweep"):
        assert exporter.start_run("trial 0", {"model.filters": 8}, {}) is None
        exporter.log_metrics("some-run", {"val_acc": 0.5}, step=1)  # offline now: not even tried
        assert exporter.send_run_end("some-run", tmp_path, {"status": "complete"}, "complete") is False
    assert time.monotonic() - started < 10
    warnings = [r.getMessage() for r in caplog.records if "MLflow" in r.getMessage()]
    assert len(warnings) == 1 and "Nothing is lost" in warnings[0]
    assert "secret" not in warnings[0] and "user:***@" in warnings[0]  # the password masked
    assert exporter.unsent >= 3


def test_a_local_store_gets_params_epochs_final_metrics_and_files(tmp_path, monkeypatch):
    from mlflow import MlflowClient

    elsewhere = tmp_path / "where the command ran"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # MLflow's own choice would be ./mlruns here
    store = tmp_path / "store"
    store.mkdir()
    uri = f"sqlite:///{store / 'mlflow.db'}"
    exporter = mx.MlflowExporter(TrackingSettings(uri=uri, experiment=None), "fallback")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "history.csv").write_text(
        "epoch,loss,acc,val_loss,val_acc,learning_rate,images\n"
        "1,2.0,0.3,1.9,0.35,0.001,800\n2,1.5,0.5,1.6,0.55,0.0005,800\n"
    )
    (run_dir / "metrics.json").write_text("{}")
    run_id = exporter.start_run("trial 7", {"model.filters": 8, "model.padding": None}, {mx.TRIAL_TAG: 7})
    assert run_id is not None
    sent = exporter.send_run_end(
        run_id,
        run_dir,
        {
            "status": "pruned",
            "objective": 0.55,
            "val_acc": 0.55,
            "epochs_run": 2,
            "error": "pruned after epoch 2",
        },
        "pruned",
        with_history=True,
    )
    assert sent
    run = MlflowClient(uri).get_run(run_id)
    assert MlflowClient(uri).get_experiment(run.info.experiment_id).name == "fallback"
    assert run.info.status == "FINISHED" and run.data.tags[mx.STATE_TAG] == "pruned"
    assert run.data.tags[mx.SENT_TAG] == "true" and run.data.params == {
        "model.filters": "8",
        "model.padding": "null",
    }
    history = MlflowClient(uri).get_metric_history(run_id, "val_acc")
    assert [(m.step, m.value) for m in history] == [(1, 0.35), (2, 0.55)]
    assert run.data.metrics["best_val_acc"] == 0.55 and "images" not in run.data.metrics
    assert {a.path for a in MlflowClient(uri).list_artifacts(run_id)} == {"history.csv", "metrics.json"}
    assert list(elsewhere.iterdir()) == []  # nothing where the command ran: the files sit beside the store
    assert sorted(p.name for p in (store / "mlartifacts").rglob("*.csv")) == ["history.csv"]


def test_tracking_settings_are_checked():
    assert tracking_settings({"name": "none", "uri": None, "experiment": None}) is None
    assert tracking_settings(
        {"name": "mlflow", "uri": "sqlite:///x.db", "experiment": None}
    ) == TrackingSettings(uri="sqlite:///x.db", experiment=None)
    with pytest.raises(ConfigError, match="tracking.experiment is empty"):
        tracking_settings({"name": "mlflow", "uri": None, "experiment": " "})
    with pytest.raises(ConfigError, match="not a URI MLflow can track to"):
        tracking_settings({"name": "mlflow", "uri": "s3://bucket/runs", "experiment": None})
    assert tracking_settings({"name": "mlflow", "uri": "postgresql+psycopg://db/x", "experiment": None})


def test_params_are_named_by_the_config_key():
    assert dotted_keys({"model": {"filters": 8, "augment": {"flip": True}}, "x": 1}) == {
        "model.filters": 8,
        "model.augment.flip": True,
        "x": 1,
    }
