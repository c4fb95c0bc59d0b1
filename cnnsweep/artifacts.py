"""Write a run's files atomically: a reader (or a crash) never sees half a file.

Each file is written to a temporary name in the same directory and renamed into
place, so ``metrics.json``, ``history.csv`` and ``model.keras`` are either the
previous complete version or the new complete one.
"""

from __future__ import annotations

import errno
import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cnnsweep import faults

METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
MODEL_FILE = "model.keras"
CURVES_FILE = "curves.png"


@contextmanager
def atomic_path(target: Path, suffix: str = ""):
    """Yield a temporary path next to ``target``; rename it over ``target`` on success."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or target.suffix,
                               dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        faults.point("artifact")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ensure_writable_dir(directory: Path) -> None:
    """Create ``directory`` and prove a file can be written there.

    Raises:
        OSError: it cannot be created or written (the caller words the message).
    """
    directory.mkdir(parents=True, exist_ok=True)
    probe = directory / ".cnnsweep-write-test"
    probe.write_bytes(b"")
    probe.unlink()


def write_error_message(exc: OSError, folder: Path) -> str:
    """What failed to be written where, and what to do about it."""
    where = Path(exc.filename).name if exc.filename else "the run's files"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (f"disk full while writing {where} in {folder} ({exc.strerror}). Free space there, "
                "point hydra.sweep.dir at a larger disk, or set trainer.save_model=false.")
    return f"could not write {where} in {folder} ({exc.strerror or exc}). Check the folder's permissions."


def atomic_write_text(target: Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _json_safe(value: Any) -> Any:
    """NaN and infinity are not JSON: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _json_safe(value.item())
    return value


def write_metrics(run_dir: Path, metrics: Mapping[str, Any]) -> Path:
    target = run_dir / METRICS_FILE
    safe = {key: _json_safe(value) for key, value in metrics.items()}
    atomic_write_text(target, json.dumps(safe, indent=2, sort_keys=False) + "\n")
    return target


def write_history(run_dir: Path, history: Mapping[str, list[float]]) -> Path:
    """One row per epoch (1-based ``epoch`` first), Keras's log keys as columns."""
    import pandas as pd

    frame = pd.DataFrame({key: list(values) for key, values in history.items()})
    frame.insert(0, "epoch", range(1, len(frame) + 1))
    preferred = [c for c in ("epoch", "loss", "acc", "val_loss", "val_acc") if c in frame]
    frame = frame[preferred + [c for c in frame.columns if c not in preferred]]
    target = run_dir / HISTORY_FILE
    with atomic_path(target) as tmp:
        frame.to_csv(tmp, index=False)
    return target


def save_atomically(target: Path, save: Callable[[Path], None]) -> Path:
    """Run ``save(tmp_path)`` and move the result into place."""
    with atomic_path(target) as tmp:
        save(tmp)
    return target
