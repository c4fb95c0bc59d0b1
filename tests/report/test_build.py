"""Building reports from a hand-made sweep dir: files, escaping, safety and bad input."""

from __future__ import annotations

import base64

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from cnnsweep.errors import UserError
from cnnsweep.report.build import build_report
from tests.helpers import run_cli
from tests.report.conftest import HOSTILE, cut_by_the_budget


def test_report_from_handmade_sweep(handmade_sweep, tmp_path):
    out = tmp_path / "out"
    report = build_report([handmade_sweep], out, with_model=False)
    page = report.read_text()
    assert str(tmp_path) not in page and "../sweep" in page  # no absolute path of this machine
    table = pd.read_csv(out / "trials.csv")
    for column in (
        "trial_number",
        "state",
        "model.filters",
        "objective",
        "test_acc",
        "epochs_run",
        "params_count",
        "train_seconds",
        "error",
    ):
        assert column in table.columns, column
    assert len(table) == 8
    pngs = sorted(out.glob("*.png"))
    assert {p.name for p in pngs} >= {
        "report_learning_curves.png",
        "report_history.png",
        "report_best_curves.png",
        "report_params.png",
        "report_epochs.png",
        "report_parallel.png",
    }
    for png in pngs:
        image = matplotlib.image.imread(png)
        assert image.shape[0] > 100 and image.shape[1] > 100, png
        # each figure is embedded whole: the page stands alone, without the PNG files
        assert f"data:image/png;base64,{base64.b64encode(png.read_bytes()).decode()}" in page, png
    assert page.count("<img ") == len(pngs)
    # hostile text from the study name and an error message is escaped
    assert HOSTILE not in page and "<script>alert" not in page
    assert "&lt;script&gt;alert(" in page
    assert "loss became NaN" in page and "model.kernel_size=9 does not fit" in page
    summary = (out / "summary.md").read_text()
    assert "best: trial 1" in summary and "1 infeasible" in summary
    assert 'id="budget-caution"' not in page  # every complete trial trained to its last epoch


def test_a_report_of_a_search_the_budget_cut_short_says_so_beside_the_best(handmade_sweep, tmp_path):
    cut_by_the_budget(handmade_sweep, 0, 1, 6)
    page = build_report([handmade_sweep], tmp_path / "out", with_model=False).read_text()
    assert '<p id="budget-caution"><b>Budget:</b> the time budget cut this search short: 0 of 8' in page


def test_a_model_with_code_in_it_is_never_run_by_the_report(handmade_sweep, tmp_path):
    """model.keras is loaded in Keras's safe mode: a Lambda layer's code is refused."""
    from cnnsweep.backend import import_keras

    keras = import_keras()
    witness = tmp_path / "code-ran"
    inputs = keras.Input((8, 8, 1))
    code = eval(f"lambda x: (__import__('pathlib').Path({str(witness)!r}).write_text('yes'), x)[1]")
    hidden = keras.layers.Lambda(code)(inputs)
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(hidden))
    witness.unlink(missing_ok=True)  # building the model ran the lambda once, here
    keras.Model(inputs, outputs).save(handmade_sweep / "1" / "model.keras")

    out = tmp_path / "out"
    page = build_report([handmade_sweep], out, with_model=True).read_text()
    assert not witness.exists()
    assert not (out / "report_confusion.png").exists()  # the best model was refused, not evaluated
    assert "Learning curves" in page  # the rest of the report is there


def test_the_best_models_plots_come_from_its_saved_predictions_without_keras(handmade_sweep, tmp_path):
    """A run's test_predictions.npy is all the report needs of the best model: a sweep's
    coordinator (which never trains when n_jobs > 1) builds the report without Keras."""
    import subprocess
    import sys

    from cnnsweep.data.loader import load_dataset

    truth = load_dataset("digits").y_test
    np.save(handmade_sweep / "1" / "test_predictions.npy", np.where(np.arange(len(truth)) % 4, truth, 0))
    script = (
        f"import sys; from pathlib import Path; from cnnsweep.report.build import build_report; "
        f"build_report([Path({str(handmade_sweep)!r})], Path({str(tmp_path / 'out')!r}), "
        "with_model=True); "
        "print(sorted(m for m in ('keras', 'tensorflow', 'jax') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "out" / "report_confusion.png").exists()
    assert (tmp_path / "out" / "report_examples.png").exists()


@pytest.mark.parametrize("kind", ["missing", "not_sweep", "empty"])
def test_report_bad_input(tmp_path, kind):
    target = tmp_path / "x"
    if kind == "not_sweep":
        target.mkdir()
        (target / "notes.txt").write_text("hi")
    elif kind == "empty":
        target.mkdir()
        (target / "multirun.yaml").write_text("{}")
    proc = run_cli(str(target), cwd=tmp_path, module="cnnsweep.report")
    assert proc.returncode == 2
    assert proc.stderr.startswith("cnnsweep.report: error: ") and "Traceback" not in proc.stderr
    expected = {
        "missing": "is not a directory",
        "not_sweep": "is not a sweep dir",
        "empty": "holds no trials yet",
    }[kind]
    assert expected in proc.stderr


def test_report_unwritable_out(handmade_sweep, tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(UserError, match="--out .* is not a writable directory"):
        build_report([handmade_sweep], tmp_path / "file" / "out", with_model=False)
