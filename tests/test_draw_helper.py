"""The sweep's drawing helper, a low-priority process: no curves plot or report figure is lost
if it dies."""

from __future__ import annotations

import pytest

from cnnsweep import draw_helper, run_files

HISTORY = {"loss": [1.0, 0.8], "acc": [0.4, 0.5], "val_loss": [1.1, 0.9], "val_acc": [0.5, 0.6]}


def test_a_sweeps_curves_are_drawn_by_a_helper_at_the_lowest_priority(tmp_path):
    import os

    drawer = draw_helper.CurvesDrawer()
    try:
        drawer.submit(HISTORY, tmp_path / "0" / run_files.CURVES_FILE, best_epoch=2, title="trial 0")
        helper = drawer._process
        assert helper is not None and helper.pid != os.getpid()
        assert os.getpriority(os.PRIO_PROCESS, helper.pid) >= 0  # it may not have niced itself yet
        drawer.wait()
        assert (tmp_path / "0" / run_files.CURVES_FILE).stat().st_size > 1000
        assert os.getpriority(os.PRIO_PROCESS, helper.pid) == 19
    finally:
        drawer.close()
    assert helper.poll() == 0  # closed cleanly once its work was done


def test_curves_the_helper_left_undrawn_when_it_died_are_drawn_here(tmp_path):
    drawer = draw_helper.CurvesDrawer()
    try:
        targets = [tmp_path / str(n) / run_files.CURVES_FILE for n in range(3)]
        for target in targets[:2]:
            drawer.submit(HISTORY, target)
        assert drawer._process is not None
        drawer._process.kill()  # before it could even import matplotlib
        drawer._process.wait()
        drawer.submit(HISTORY, targets[2])  # the helper is gone: drawn here at once
        drawer.wait()
        assert all(target.is_file() for target in targets)
    finally:
        drawer.close()


def test_ctrl_c_reaching_the_helper_with_the_sweep_breaks_no_plot(tmp_path):
    """A terminal's Ctrl-C, or SLURM's ``scancel --signal=INT``, reaches the helper too: it
    draws on, and ends when the sweep closes its input."""
    import os
    import signal
    import time

    drawer = draw_helper.CurvesDrawer()
    try:
        drawer.submit(HISTORY, tmp_path / "0" / run_files.CURVES_FILE)
        drawer.wait()  # it is in its loop now
        helper = drawer._process
        assert helper is not None
        for _ in range(3):
            os.kill(helper.pid, signal.SIGINT)
        time.sleep(0.5)
        assert helper.poll() is None
        drawer.submit(HISTORY, tmp_path / "1" / run_files.CURVES_FILE, title="trial 1")
        drawer.wait()
        assert drawer._process is helper and helper.poll() is None  # the same helper drew it
        assert (tmp_path / "1" / run_files.CURVES_FILE).is_file()
    finally:
        drawer.close()
    assert helper.poll() == 0


def test_a_plot_the_helper_answered_with_an_error_is_drawn_here(tmp_path):
    import io
    import types

    drawer = draw_helper.CurvesDrawer()
    target = tmp_path / run_files.CURVES_FILE
    drawer._unanswered[1] = {"history": HISTORY, "target": str(target), "title": "trial 0"}
    answers = '{"id": 1, "error": "ImportError: PyCapsule_Import could not import module"}\n'
    drawer._read_answers(types.SimpleNamespace(stdout=io.StringIO(answers)))
    assert not target.exists()
    drawer.wait()
    assert target.stat().st_size > 1000


@pytest.fixture
def helper(tmp_path, monkeypatch):
    """A drawer of its own for this module, its helper started (as a sweep's first curves plot
    starts it), closed afterwards."""
    drawer = draw_helper.CurvesDrawer()
    monkeypatch.setattr(draw_helper, "_drawer", drawer)
    draw_helper.plot_curves_later(HISTORY, tmp_path / run_files.CURVES_FILE)
    draw_helper.wait_for_plots()
    process = drawer._process
    assert process is not None and process.poll() is None
    yield process
    drawer.close()


def test_the_report_shares_its_figures_with_the_sweeps_idle_helper(helper):
    """Jobs run in both processes, each answer in its job's place: the helper takes the last
    job first, this process the first; what a job raises, in either process, is its outcome."""
    import os

    outcomes = draw_helper.share_with_helper([(os.getpid, ())] * 4 + [(int, ("x",)), (os.getpid, ())])
    assert outcomes[0].result() == os.getpid()
    assert outcomes[-1].result() == helper.pid
    assert {outcome.result() for outcome in outcomes[1:4]} <= {os.getpid(), helper.pid}
    assert isinstance(outcomes[4].exception(), ValueError | draw_helper.HelperError)
    assert "invalid literal" in str(outcomes[4].exception())


def test_a_job_the_helper_never_answered_runs_here(helper):
    """The helper dies running the job it took (the last): that job, and every other, still
    gets its outcome, here."""
    import os
    import signal

    jobs = [(os.getpid, ())] * 3 + [(os.kill, (helper.pid, signal.SIGKILL))]
    outcomes = draw_helper.share_with_helper(jobs)
    helper.wait(timeout=10)
    assert helper.returncode == -signal.SIGKILL
    assert [outcome.result() for outcome in outcomes[:3]] == [os.getpid()] * 3
    assert outcomes[3].done()  # run again here: the killed helper may not be reaped yet
    assert draw_helper.share_with_helper([(os.getpid, ())] * 2)[1].result() == os.getpid()  # none is left
    assert draw_helper._drawer.call(lambda: 1, ()) is None  # nor would a lambda go: it does not pickle


def test_without_a_helper_every_job_runs_here(monkeypatch):
    import os

    drawer = draw_helper.CurvesDrawer()  # never started: no helper runs
    monkeypatch.setattr(draw_helper, "_drawer", drawer)
    assert drawer.call(os.getpid, ()) is None
    assert [outcome.result() for outcome in draw_helper.share_with_helper([(os.getpid, ())] * 3)] == [
        os.getpid()
    ] * 3


def test_an_answer_this_process_cannot_read_fails_its_call_not_the_reader():
    """A garbled answer fails only its own call; the reader goes on, and at the helper's end
    every call still unanswered learns the helper is gone (none waits forever)."""
    import base64
    import io
    import json
    import types
    from concurrent.futures import Future

    drawer = draw_helper.CurvesDrawer()
    garbled, unanswered = Future(), Future()
    drawer._calls = {1: garbled, 2: unanswered}
    drawer._answering = True
    unreadable = base64.b64encode(b"no pickle").decode()
    answers = "printed by a library\n" + json.dumps({"id": 1, "result": unreadable}) + "\n"
    drawer._read_answers(types.SimpleNamespace(stdout=io.StringIO(answers)))
    assert garbled.exception() is not None and not isinstance(garbled.exception(), draw_helper.HelperGone)
    assert isinstance(unanswered.exception(), draw_helper.HelperGone)
    assert drawer.call(print, ()) is None  # its answers have ended: no call is sent any more


def test_a_sweep_has_its_helper_import_the_report_figures_while_it_idles(tmp_path, monkeypatch):
    """The coordinator names the report's figure modules (each one real); the helper, once
    started, has them imported before the report asks for a figure."""
    import importlib

    from cnnsweep.sweep.runner import REPORT_FIGURES

    for module in REPORT_FIGURES:
        importlib.import_module(module)
    drawer = draw_helper.CurvesDrawer()
    monkeypatch.setattr(draw_helper, "_drawer", drawer)
    draw_helper.warm_up(REPORT_FIGURES)
    drawer.submit(HISTORY, tmp_path / run_files.CURVES_FILE)  # a trial's plot starts the helper
    try:
        imported = drawer.call(_imported, (REPORT_FIGURES,))
        assert imported is not None and imported.result(timeout=60) == list(REPORT_FIGURES)
    finally:
        drawer.close()


def _imported(modules):
    import sys
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(m in sys.modules for m in modules):
        time.sleep(0.05)
    return [m for m in modules if m in sys.modules]
