"""A run's files: their names, the metric keys, and writing them.

The one place that knows what a run leaves in its folder (``metrics.json``,
``history.csv``, ``model.keras``, ``curves.png``) and which metrics a sweep
records per trial. Every file is written atomically (:mod:`cnnsweep.atomic`), so
a reader (or a crash) sees either the previous complete version or the new
complete one. ``metrics.json`` is written last: its presence means the rest is
there. How ``curves.png`` is drawn is the run's choice, handed in as ``draw``.
"""

from __future__ import annotations

import errno
import json
import logging
import math
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cnnsweep.atomic import atomic_write_text, save_atomically, write_csv

log = logging.getLogger("cnnsweep")

METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
MODEL_FILE = "model.keras"
CURVES_FILE = "curves.png"
# The kept epoch's predicted class of each test image, in the test split's order: the report
# draws the best model's confusion matrix and examples from it without loading Keras.
PREDICTIONS_FILE = "test_predictions.npy"
# The kept epoch's class probabilities of each test image (float16) beside the true classes:
# a sweep's ensemble (hydra.sweeper.ensemble) averages its members' without loading Keras.
PROBABILITIES_FILE = "test_probabilities.npz"
HYDRA_CONFIG = Path(".hydra") / "config.yaml"  # the resolved config Hydra saves per run
HYDRA_OVERRIDES = Path(".hydra") / "overrides.yaml"

STATUSES = ("complete", "pruned", "failed", "infeasible")  # metrics.json "status"
# The metrics a sweep records for every trial, in trials.csv's column order.
# (The image counts let a sweep with hydra.sweeper.refit estimate the refit's time.)
RECORDED_METRICS = (
    "objective",
    "best_epoch",
    "epochs_run",
    "val_acc",
    "val_loss",
    "test_acc",
    "test_loss",
    "params_count",
    "flatten_side",
    "flatten_values",
    "receptive_field",
    "macs_per_image",
    "train_seconds",
    "images_per_second",
    "memory_mb",
    "first_epoch_seconds",
    "train_images",
    "val_images",
    "stopped_by",
    "error",
)
TENSORBOARD_DIR = "tensorboard"  # trainer.tensorboard=true: event files (train/, validation/)
HISTORY_COLUMNS = ("epoch", "loss", "acc", "val_loss", "val_acc")  # first columns of history.csv

# How a run draws its curves.png: (history, target, best_epoch=..., title=...) -> None.
DrawCurves = Callable[..., Any]


def ensure_writable_dir(directory: Path) -> None:
    """Create ``directory`` and prove a file can be written there.

    Raises:
        OSError: it cannot be created or written (the caller words the message).
    """
    directory.mkdir(parents=True, exist_ok=True)
    # A probe of its own: a sweep's worker processes check the same folder at the same moment,
    # and one shared name would let one remove another's probe before it does.
    with tempfile.NamedTemporaryFile(dir=directory, prefix=".cnnsweep-write-test-"):
        pass


def write_error_message(exc: OSError, folder: Path) -> str:
    """What failed to be written where, and what to do about it."""
    where = Path(exc.filename).name if exc.filename else "the run's files"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (
            f"disk full while writing {where} in {folder} ({exc.strerror}). Free space there, "
            "point hydra.sweep.dir at a larger disk, or set trainer.save_model=false."
        )
    return f"could not write {where} in {folder} ({exc.strerror or exc}). Check the folder's permissions."


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
    return write_csv(frame, run_dir / HISTORY_FILE)


def read_history(run_dir: Path) -> dict[str, list[float]]:
    """What :func:`write_history` wrote, as Keras's ``history.history`` (no ``epoch`` column),
    or {} when it is missing, unreadable or empty."""
    import pandas as pd

    try:
        frame = pd.read_csv(run_dir / HISTORY_FILE).drop(columns="epoch", errors="ignore")
    except (OSError, ValueError, pd.errors.ParserError):
        return {}
    return {str(key): [float(v) for v in values] for key, values in frame.items()} if len(frame) else {}


def failed_metrics(error: str) -> dict[str, Any]:
    """What a run that never produced metrics is recorded as: failed, and why."""
    return {"status": "failed", "error": error}


def read_metrics(run_dir: Path, problems: list[str] | None = None) -> dict[str, Any] | None:
    """A run's ``metrics.json`` as a dict, or None when it is missing or unreadable (and
    then, when ``problems`` is given, a line saying which and why is added to it)."""
    import json

    path = run_dir / METRICS_FILE
    try:
        metrics = json.loads(path.read_text())
        if not isinstance(metrics, dict):
            raise ValueError("not a JSON object")
        return metrics
    except FileNotFoundError:
        why = "missing"
    except (OSError, ValueError) as exc:
        why = f"unreadable ({type(exc).__name__}: {exc})"
    if problems is not None:
        problems.append(f"{path}: {why}")
    return None


def read_run_config(run_dir: Path) -> dict[str, Any]:
    """The resolved config Hydra saved for a run (``.hydra/config.yaml``), or {} when it is
    missing or unreadable."""
    import yaml

    try:
        config = yaml.safe_load((run_dir / HYDRA_CONFIG).read_text())
    except (OSError, yaml.YAMLError):
        return {}
    return config if isinstance(config, dict) else {}


def write_run(
    run_dir: Path,
    metrics: dict[str, Any],
    history: Mapping[str, Sequence[float]],
    *,
    title: str = "",
    model: Any = None,
    draw: DrawCurves | None = None,
    predictions: Any = None,
    test_scores: tuple[Any, Any] | None = None,
) -> None:
    """Everything a run leaves: ``model.keras`` (if given), history, curves, then metrics.

    Args:
        run_dir: the run's folder.
        metrics: what ``metrics.json`` holds.
        history: Keras's per-epoch logs.
        title: the curves plot's title.
        model: a Keras model to save as the best epoch's model.
        draw: draws ``curves.png`` as ``draw(history, target, best_epoch=..., title=...)``
            (:func:`cnnsweep.curves.plot_curves`, or :mod:`cnnsweep.draw_helper` in a sweep);
            None draws no plot.
        predictions: the test images' predicted classes, saved as ``test_predictions.npy``.
        test_scores: the test images' class probabilities and true classes, saved as
            ``test_probabilities.npz`` (:func:`read_test_scores`).

    Raises:
        OSError: a file could not be written (:func:`write_error_message` words it).
    """
    if model is not None:
        save_atomically(run_dir / MODEL_FILE, model.save)
    if predictions is not None:
        import numpy as np

        save_atomically(
            run_dir / PREDICTIONS_FILE,
            lambda tmp: np.save(tmp, np.asarray(predictions, dtype=np.int16), allow_pickle=False),
        )
    if test_scores is not None:
        import numpy as np

        probabilities, labels = test_scores
        save_atomically(
            run_dir / PROBABILITIES_FILE,
            lambda tmp: np.savez(
                tmp,
                probabilities=np.asarray(probabilities, dtype=np.float16),
                labels=np.asarray(labels, dtype=np.int16),
            ),
        )
    if history:
        write_history(run_dir, history)
        if draw is not None:
            draw(history, run_dir / CURVES_FILE, best_epoch=metrics.get("best_epoch"), title=title)
    write_metrics(run_dir, metrics)


def read_test_scores(run_dir: Path) -> tuple[Any, Any] | None:
    """A run's test class probabilities (float32) and true classes from
    ``test_probabilities.npz``, or None when it is missing or unreadable."""
    import zipfile

    import numpy as np

    try:
        with np.load(run_dir / PROBABILITIES_FILE, allow_pickle=False) as saved:
            probabilities, labels = saved["probabilities"].astype(np.float32), saved["labels"]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    if probabilities.ndim != 2 or labels.shape != (len(probabilities),):
        return None
    return probabilities, labels
