"""cnnsweep's Python API, as a notebook uses it: compose without Keras, train and sweep in
child processes, read sweeps back; the calling process never imports TensorFlow."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

import cnnsweep
from cnnsweep.errors import Infeasible, UserError
from tests.helpers import cli_env

TINY = [
    "dataset=digits",
    "dataset.train_limit=300",
    "dataset.test_limit=100",
    "trainer.epochs=1",
    "trainer.quiet=true",
    "model.filters=8",
]


def test_compose_lays_out_the_lessons_model_without_keras_and_leaves_no_hydra_state():
    from hydra.core.global_hydra import GlobalHydra

    lesson = cnnsweep.compose("model=seed", "dataset=fashion_mnist")
    assert lesson.config["model"]["filters"] == 128 and lesson.plan.params_count == 216970
    summary = lesson.summary()
    assert "block1_conv1" in summary and "27x27x128" in summary and "Flatten sees 21,632 values" in summary
    assert not GlobalHydra.instance().is_initialized()


def test_compose_of_an_impossible_shape_raises_the_clis_one_line_error():
    with pytest.raises(Infeasible) as err:
        cnnsweep.compose("model=seed", "dataset=digits", "model.kernel_size=9")
    assert "model.kernel_size=9 does not fit" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(UserError, match="model.filtres"):
        cnnsweep.compose("model.filtres=3")


def test_importing_cnnsweep_and_composing_never_imports_tensorflow():
    code = (
        "import sys, cnnsweep; cnnsweep.compose('dataset=digits'); cnnsweep.load; "
        "print(sorted(m for m in ('tensorflow', 'jax', 'keras') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), check=True
    )
    assert out.stdout.strip() == "[]"


def test_load_refuses_a_folder_that_is_no_sweep(tmp_path):
    with pytest.raises(UserError, match="is not a sweep dir"):
        cnnsweep.load(tmp_path)


@pytest.mark.slow
def test_train_runs_in_a_child_and_reads_its_files_back(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = cnnsweep.train(*TINY, run_dir=tmp_path / "run")
    assert run.metrics == json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert run.metrics["status"] == "complete"
    pd.testing.assert_frame_equal(run.history, pd.read_csv(tmp_path / "run" / "history.csv"))
    assert {"loss", "acc", "val_loss", "val_acc"} <= set(run.history.columns)
    figure = run.plot()
    assert [ax.get_ylabel() for ax in figure.axes] == ["loss", "acc"]
    assert "val_acc" in run._repr_html_()
    assert "tensorflow" not in sys.modules or "keras" in sys.modules  # the suite may have loaded it
    with pytest.raises(cnnsweep.CommandFailed, match="model.kernel_size=99"):
        cnnsweep.train(*TINY, "model.kernel_size=99", run_dir=tmp_path / "bad")


@pytest.mark.slow
@pytest.mark.heavy  # three sweeps in this process, about two minutes
def test_sweep_reads_back_as_dataframes_and_refuses_to_reload_an_old_sweep(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cnnsweep.sweep(
        *TINY, "model.kernel_size=choice(2,3)", "hydra.sweeper.n_trials=3", sweep_dir=tmp_path / "s"
    )
    pd.testing.assert_frame_equal(result.trials, pd.read_csv(tmp_path / "s" / "trials.csv"))
    pd.testing.assert_frame_equal(result.effects, pd.read_csv(tmp_path / "s" / "effects.csv"))
    assert result.best["trial"] in set(result.trials["trial_number"])
    assert result.best["command"].startswith("python -m cnnsweep")
    assert len(result.study.trials) == 3
    assert list(result.history(0).columns[:5]) == ["epoch", "loss", "acc", "val_loss", "val_acc"]
    assert "cnnsweep sweep" in result._repr_html_()
    with pytest.raises(UserError, match="already holds a sweep: pass resume=True") as err:
        cnnsweep.sweep(*TINY, "model.kernel_size=choice(2,3)", sweep_dir=tmp_path / "s")
    assert "\n" not in str(err.value)
    again = cnnsweep.sweep(
        *TINY,
        "model.kernel_size=choice(2,3)",
        "hydra.sweeper.n_trials=4",
        sweep_dir=tmp_path / "s",
        resume=True,
    )
    assert len(again.trials) == 4 and set(again.trials["trial_number"]) == {0, 1, 2, 3}
    fresh = cnnsweep.sweep(*TINY, "model.kernel_size=choice(2,3)", "hydra.sweeper.n_trials=1")
    assert fresh.sweep_dir != result.sweep_dir and fresh.sweep_dir.is_relative_to(tmp_path / "multirun")


@pytest.mark.slow
def test_an_interrupted_sweep_returns_its_finished_trials_and_resumes_to_n_trials(tmp_path):
    sweep_dir = tmp_path / "s"
    script = textwrap.dedent(f"""
        import signal
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a kernel's, even if started ignoring it
        import cnnsweep
        result = cnnsweep.sweep(*{TINY!r}, "model.kernel_size=choice(2,3)", "hydra.sweeper.n_trials=6",
                                sweep_dir={str(sweep_dir)!r})
        print("RESULT", result.interrupted, len(result.trials[result.trials["state"] == "complete"]))
    """)
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while not (sweep_dir / "0" / "metrics.json").exists() and time.time() < deadline:
        time.sleep(0.2)
    child.send_signal(signal.SIGINT)  # what interrupting the kernel does to a running cell
    out, err = child.communicate(timeout=120)
    interrupted, complete = out.split("RESULT", 1)[1].split()
    assert interrupted == "True" and 1 <= int(complete) < 6, out[-2000:] + err[-2000:]
    resumed = cnnsweep.sweep(
        *TINY, "model.kernel_size=choice(2,3)", "hydra.sweeper.n_trials=6", sweep_dir=sweep_dir, resume=True
    )
    assert (resumed.trials["state"].isin(["complete", "pruned"])).sum() == 6


def test_the_api_docstrings_examples_run():
    import doctest

    from cnnsweep import api

    failures, tried = doctest.testmod(api, extraglobs={"cnnsweep": cnnsweep}, report=False)
    assert tried >= 1 and failures == 0
