"""How a sweep is asked to stop: Ctrl-C, SIGTERM, and SLURM's warning before a time limit.

The first Ctrl-C (SIGINT) or SIGTERM (what ``kill``, ``docker stop``, Kubernetes,
systemd and SLURM's ``scancel`` send first) asks the sweep to stop at the next
batch; the second stops it at once. SIGUSR2, SLURM's warning before a job's time
limit, asks like a first Ctrl-C, so a worker job records its trial before the
scheduler kills it.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from cnnsweep.errors import StopReason

log = logging.getLogger("cnnsweep")


class StopRequest:
    """A stop request, asked for by a signal and honoured at safe points only.

    Python's own handler raises KeyboardInterrupt wherever the interpreter is,
    including inside finalizers that swallow it; the sweep stops only where
    :meth:`check` is called (and a trial's hooks ask), so the running trial is
    always recorded.
    """

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.reason = StopReason.INTERRUPTED  # TERMINATED after a SIGTERM: the command then exits 143

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def on_sigint(signum: int, frame: Any) -> None:
            if self.requested.is_set():
                signal.default_int_handler(signum, frame)
            self.requested.set()
            log.warning("Ctrl-C: stopping at the next batch (press again to stop at once)")

        def on_sigterm(signum: int, frame: Any) -> None:
            if self.requested.is_set():
                signal.default_int_handler(signum, frame)
            self.reason = StopReason.TERMINATED
            self.requested.set()
            log.warning("SIGTERM: stopping at the next batch (send it again to stop at once)")

        def on_sigusr2(signum: int, frame: Any) -> None:
            self.requested.set()
            log.warning("SIGUSR2 (the job's time limit is near): stopping at the next batch")

        signal.signal(signal.SIGINT, on_sigint)
        signal.signal(signal.SIGTERM, on_sigterm)
        signal.signal(signal.SIGUSR2, on_sigusr2)

    def check(self) -> None:
        """Raise KeyboardInterrupt here, at a safe point, if a stop was asked for."""
        if self.requested.is_set():
            raise KeyboardInterrupt
