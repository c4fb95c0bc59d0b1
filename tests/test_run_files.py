"""A run's files: atomic writes, JSON-safe metrics, history columns, readable write errors."""

from __future__ import annotations

import errno
import json
import math
import threading

import pandas as pd
import pytest

from cnnsweep import run_files
from cnnsweep.atomic import atomic_path
from cnnsweep.run_files import ensure_writable_dir


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_metrics_are_json_with_nan_as_null(tmp_path):
    import numpy as np

    run_files.write_metrics(tmp_path, {"objective": math.nan, "val_acc": np.float32(0.5), "n": np.int64(3)})
    assert json.loads((tmp_path / run_files.METRICS_FILE).read_text()) == {
        "objective": None,
        "val_acc": 0.5,
        "n": 3,
    }


def test_history_has_epoch_first_then_the_lessons_columns(tmp_path):
    run_files.write_history(
        tmp_path,
        {
            "val_acc": [0.5, 0.6],
            "lr": [1e-3, 1e-3],
            "loss": [1.0, 0.8],
            "acc": [0.4, 0.5],
            "val_loss": [1.1, 0.9],
        },
    )
    frame = pd.read_csv(tmp_path / run_files.HISTORY_FILE)
    assert list(frame.columns) == ["epoch", "loss", "acc", "val_loss", "val_acc", "lr"]
    assert frame["epoch"].tolist() == [1, 2]


def test_write_errors_name_the_file_and_the_fix(tmp_path):
    full = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "model.keras"))
    message = run_files.write_error_message(full, tmp_path)
    assert "disk full while writing model.keras" in message and "trainer.save_model=false" in message
    denied = OSError(errno.EACCES, "Permission denied", str(tmp_path / "history.csv"))
    assert "Check the folder's permissions" in run_files.write_error_message(denied, tmp_path)


def test_write_run_saves_the_model_first_and_metrics_last(tmp_path):
    written = []

    class Model:
        def save(self, path):
            others = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
            written.append(("model", others))
            path.write_bytes(b"weights")

    history = {"loss": [1.0, 0.5], "acc": [0.3, 0.6], "val_loss": [1.1, 0.7], "val_acc": [0.2, 0.5]}
    from cnnsweep.curves import plot_curves

    run_files.write_run(
        tmp_path, {"status": "complete", "best_epoch": 2}, history, title="t", model=Model(), draw=plot_curves
    )
    assert written == [("model", [])]  # nothing else existed when the model was saved
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {
        run_files.MODEL_FILE,
        run_files.HISTORY_FILE,
        run_files.CURVES_FILE,
        run_files.METRICS_FILE,
    }
    modified = {name: (tmp_path / name).stat().st_mtime_ns for name in names}
    assert modified[run_files.METRICS_FILE] == max(modified.values())


def test_every_recorded_metric_is_a_metrics_json_key_of_a_run(tiny_config, tmp_path):
    from cnnsweep.training import train

    metrics = train(tiny_config, tmp_path).metrics
    assert set(run_files.RECORDED_METRICS) - {"error", "stopped_by"} <= set(metrics)
    assert metrics["status"] in run_files.STATUSES


def test_workers_checking_one_folder_at_once_never_see_it_unwritable(tmp_path):
    """A sweep's worker processes each check hydra.sweep.dir as they start, at the same
    moment: no check may remove the probe of another (which read as "not a writable
    directory" and ended that worker). Threads race the check here, hundreds of times."""
    start = threading.Barrier(6)
    errors: list[OSError] = []

    def check_repeatedly():
        start.wait()
        for _ in range(300):
            try:
                ensure_writable_dir(tmp_path)
            except OSError as exc:
                errors.append(exc)

    threads = [threading.Thread(target=check_repeatedly) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[:3]
    assert list(tmp_path.iterdir()) == []  # no probe left behind
