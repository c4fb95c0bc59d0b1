"""Atomic file writes: a reader (or a crash) sees the old complete file or the new one.

Each file is written to a temporary name in the same directory and renamed into
place. A leaf module: the run's files, the curves, the records and the report
all write through it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cnnsweep import faults


@contextmanager
def atomic_path(target: Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it over ``target`` on success."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or target.suffix, dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        faults.point("artifact")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(target: Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def save_atomically(target: Path, save: Callable[[Path], None]) -> Path:
    """Run ``save(tmp_path)`` and move the result into place."""
    with atomic_path(target) as tmp:
        save(tmp)
    return target


def write_csv(frame: Any, target: Path) -> Path:
    """A pandas DataFrame as the CSV file ``target`` (no index column)."""
    with atomic_path(target) as tmp:
        frame.to_csv(tmp, index=False)
    return target
