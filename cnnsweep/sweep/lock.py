"""One live command per sweep dir: a second one refuses at once, naming the first.

The coordinator holds an advisory lock (``flock``) on ``<sweep dir>/.cnnsweep.lock``
for as long as it lives; the kernel releases it when the process ends in any way,
SIGKILL included. A second command on the same dir (two terminals, a scheduler's
retry) finds it held and stops before it touches the study, so it never fails a
trial the first one is running. Once the holder is gone the lock is free, and the
next command resumes the sweep, recovering the trials the dead one left running.
(The worker processes and SLURM jobs of a sweep are its own: they take no lock.)
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import IO

from cnnsweep.errors import UserError

LOCK_FILE = ".cnnsweep.lock"


class SweepDirLock:
    """The held lock of one sweep dir; released when this process ends."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle  # kept open: closing it would release the lock

    def release(self) -> None:
        """Free the dir for the next command; the emptied file leaves the sweep's files as they were."""
        self._handle.truncate(0)
        self._handle.close()


def hold_sweep_dir(sweep_dir: Path) -> SweepDirLock:
    """Take the sweep dir's lock, or say who holds it.

    Raises:
        UserError: a live command holds it (its pid, host and start in the message).
    """
    import errno
    import fcntl

    sweep_dir.mkdir(parents=True, exist_ok=True)
    path = sweep_dir / LOCK_FILE
    try:  # never through a link: a symlink planted in the sweep dir would have its target truncated
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise UserError(
            f"hydra.sweep.dir={sweep_dir}: its lock file {path} cannot be opened ({exc.strerror}"
            f"{'; it is a symbolic link: remove it' if exc.errno == errno.ELOOP else ''}).",
            key="hydra.sweep.dir",
        ) from None
    handle = os.fdopen(descriptor, "r+")  # held open for the life of the sweep
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            handle.close()
            raise UserError(
                f"hydra.sweep.dir={sweep_dir}: its lock cannot be taken ({exc.strerror}; a network "
                "file system without locks?). Give the sweep a dir on a local disk, or one whose file "
                "system supports flock.",
                key="hydra.sweep.dir",
            ) from None
        handle.seek(0)
        holder = _read(handle.read())
        handle.close()
        who = (
            f"process {holder.get('pid')} on {holder.get('host')}, started {holder.get('started')}"
            if holder
            else "another process"
        )
        raise UserError(
            f"hydra.sweep.dir={sweep_dir} is in use by a running sweep ({who}). Wait for it "
            "to end, stop it (Ctrl-C or kill, then run this command again to resume), or "
            "give this command another hydra.sweep.dir.",
            key="hydra.sweep.dir",
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(
        json.dumps(
            {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        )
    )
    handle.flush()
    return SweepDirLock(handle)


def _read(text: str) -> dict:
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}
