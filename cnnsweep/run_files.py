"""A run's files: their names, the metric keys, and atomic writes.

The one place that knows what a run leaves in its folder (``metrics.json``,
``history.csv``, ``model.keras``, ``curves.png``) and which metrics a sweep
records per trial. Each file is written to a temporary name in the same
directory and renamed into place, so a reader (or a crash) sees either the
previous complete version or the new complete one. ``metrics.json`` is written
last: its presence means the rest is there.
"""

from __future__ import annotations

import errno
import json
import logging
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cnnsweep import faults

log = logging.getLogger("cnnsweep")

METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
MODEL_FILE = "model.keras"
CURVES_FILE = "curves.png"
HYDRA_CONFIG = Path(".hydra") / "config.yaml"  # the resolved config Hydra saves per run
HYDRA_OVERRIDES = Path(".hydra") / "overrides.yaml"

STATUSES = ("complete", "pruned", "failed", "infeasible")  # metrics.json "status"
# The metrics a sweep records for every trial, in trials.csv's column order.
RECORDED_METRICS = ("objective", "best_epoch", "epochs_run", "val_acc", "val_loss", "test_acc",
                    "test_loss", "params_count", "train_seconds", "images_per_second", "memory_mb",
                    "first_epoch_seconds", "error")
TENSORBOARD_DIR = "tensorboard"  # trainer.tensorboard=true: event files (train/, validation/)
HISTORY_COLUMNS = ("epoch", "loss", "acc", "val_loss", "val_acc")  # first columns of history.csv


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


def write_history(run_dir: Path, history: Mapping[str, Sequence[float]]) -> Path:
    """One row per epoch (1-based ``epoch`` first), Keras's log keys as columns."""
    import pandas as pd

    frame = pd.DataFrame({key: list(values) for key, values in history.items()})
    frame.insert(0, "epoch", range(1, len(frame) + 1))
    preferred = [c for c in HISTORY_COLUMNS if c in frame]
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


def write_run(run_dir: Path, metrics: dict[str, Any], history: Mapping[str, Sequence[float]], *,
              title: str = "", model: Any = None, draw_later: bool = False) -> None:
    """Everything a run leaves: ``model.keras`` (if given), history, curves, then metrics.

    Args:
        run_dir: the run's folder.
        metrics: what ``metrics.json`` holds.
        history: Keras's per-epoch logs.
        title: the curves plot's title.
        model: a Keras model to save as the best epoch's model.
        draw_later: draw ``curves.png`` in a background process (a sweep's next
            trial trains meanwhile; :func:`cnnsweep.curves.wait_for_plots` before the process ends).

    Raises:
        OSError: a file could not be written (:func:`write_error_message` words it).
    """
    if model is not None:
        save_atomically(run_dir / MODEL_FILE, model.save)
    if history:
        write_history(run_dir, history)
        from cnnsweep import curves  # matplotlib only when a plot is drawn

        draw = curves.plot_curves_later if draw_later else curves.plot_curves
        draw(history, run_dir / CURVES_FILE, best_epoch=metrics.get("best_epoch"), title=title)
    write_metrics(run_dir, metrics)
