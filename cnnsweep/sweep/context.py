"""What the sweeper shares with the job running in its process.

Trials run in the sweeper's own process (Hydra's basic launcher), so the job
reads its trial from here to report epochs to the pruner, and sees here when
Ctrl-C asked the sweep to stop.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("cnnsweep")

current_trial: Any = None  # optuna.trial.Trial while a sweep's job runs
stop_requested = threading.Event()  # set by the first Ctrl-C


def check_stop() -> None:
    """Raise KeyboardInterrupt here, at a safe point, if Ctrl-C asked to stop."""
    if stop_requested.is_set():
        raise KeyboardInterrupt


def install_ctrl_c_handler() -> None:
    """First Ctrl-C: stop at the next batch or trial boundary; the second: at once.

    Python's own handler raises KeyboardInterrupt wherever the interpreter is,
    including inside finalizers that swallow it; the sweep stops only where
    :func:`check_stop` is called, so the running trial is always recorded.
    """
    if threading.current_thread() is not threading.main_thread():
        return

    def on_sigint(signum: int, frame: Any) -> None:
        if stop_requested.is_set():
            signal.default_int_handler(signum, frame)
        stop_requested.set()
        log.warning("Ctrl-C: stopping at the next batch (press again to stop at once)")

    signal.signal(signal.SIGINT, on_sigint)


def pruning_reporter() -> Callable[[int, float], bool] | None:
    """A ``report_epoch`` hook for :func:`cnnsweep.train.train`, or None outside sweeps."""
    trial = current_trial
    if trial is None or len(trial.study.directions) > 1:
        return None  # Optuna prunes single-objective studies only

    def report(epoch: int, value: float) -> bool:
        trial.report(value, step=epoch)
        return trial.should_prune()

    return report
