"""A sweep's curves: drawn by a low-priority helper process, and none lost if it dies."""

from __future__ import annotations

from cnnsweep import curves, run_files

HISTORY = {"loss": [1.0, 0.8], "acc": [0.4, 0.5], "val_loss": [1.1, 0.9], "val_acc": [0.5, 0.6]}


def test_a_sweeps_curves_are_drawn_by_a_helper_at_the_lowest_priority(tmp_path):
    import os

    drawer = curves.CurvesDrawer()
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
    drawer = curves.CurvesDrawer()
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
