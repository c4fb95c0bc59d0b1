"""Named fault points, for proving what a sweep survives.

The fault-injection tests set ``CNNSWEEP_FAULT`` to make one process fail at
a chosen moment, the way a crash, a full disk or an out-of-memory would:

    CNNSWEEP_FAULT=artifact:3:kill     # SIGKILL itself the 3rd time a file is renamed into place
    CNNSWEEP_FAULT=batch:5:oom         # raise MemoryError at the 5th training batch

The format is ``POINT[:N[:ACTION]]`` (N defaults to 1, ACTION to ``kill``).
Points: ``data`` (a dataset is being loaded), ``batch`` (a training batch
ended, mid-epoch), ``artifact`` (a run file is about to replace its old
version), ``tell`` (a trial's result is about to be stored), ``between``
(a trial was stored, the next not yet asked), ``ask`` (a worker found the budget
open and is about to ask for a trial). Actions: ``kill``, ``enospc``
(OSError "No space left on device"), ``oom`` (MemoryError), ``hold`` (wait,
alive, until the file ``CNNSWEEP_FAULT_RELEASE`` names exists: a stalled
process, or one a test keeps out of the way while others work).

Without the variable every point costs one dictionary lookup.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from pathlib import Path

POINTS = ("data", "batch", "artifact", "tell", "between", "ask")
ACTIONS = ("kill", "enospc", "oom", "hold")
HOLD_AT_MOST_S = 900.0  # a held process goes on by itself after this, so no test hangs for good
_hits: dict[str, int] = {}


def spec() -> tuple[str, int, str] | None:
    """The configured fault as (point, occurrence, action), or None."""
    raw = os.environ.get("CNNSWEEP_FAULT")
    if not raw:
        return None
    point, _, rest = raw.partition(":")
    count_text, _, action = rest.partition(":")
    count, action = int(count_text or 1), action or "kill"
    if point not in POINTS or action not in ACTIONS or count < 1:
        raise ValueError(
            f"CNNSWEEP_FAULT={raw!r}: expected POINT[:N[:ACTION]] with POINT in "
            f"{', '.join(POINTS)} and ACTION in {', '.join(ACTIONS)}"
        )
    return point, count, action


def point(name: str) -> None:
    """Fail here if ``CNNSWEEP_FAULT`` names this point and its count is reached."""
    fault = spec()
    if fault is None or fault[0] != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] != fault[1]:
        return
    action = fault[2]
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if action == "hold":
        release = os.environ.get("CNNSWEEP_FAULT_RELEASE")
        until = time.monotonic() + HOLD_AT_MOST_S
        while time.monotonic() < until and not (release and Path(release).exists()):
            time.sleep(0.1)
        return
    if action == "enospc":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    raise MemoryError(f"injected out-of-memory at {name} #{fault[1]}")


def batch_callback():
    """A Keras callback that passes every training batch through the ``batch`` point.

    Only added to a fit when ``CNNSWEEP_FAULT`` names that point, so normal
    runs keep Keras's fast path without per-batch Python hooks.
    """
    fault = spec()
    if fault is None or fault[0] != "batch":
        return None
    from cnnsweep.backend import import_keras

    keras = import_keras()

    class _BatchFault(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            point("batch")

    return _BatchFault()
