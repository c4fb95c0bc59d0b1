"""What cnnsweep's files and values become in MLflow: a history.csv as metric rows, values
as params and metrics, a model's signature, and where a new experiment keeps its files."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from cnnsweep.numbers import is_number

MAX_PARAM_CHARS = 6000  # MLflow's limit on a param's value


def model_signature(model: Any) -> Any:
    """Images in (batch, height, width, channels), class probabilities out: what serving checks."""
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    def spec(shape: tuple) -> Schema:
        return Schema([TensorSpec(np.dtype(np.float32), tuple(-1 if n is None else int(n) for n in shape))])

    return ModelSignature(inputs=spec(model.input_shape), outputs=spec(model.output_shape))


def history_rows(path: Path) -> list[tuple[int, dict[str, float | None]]]:
    """``history.csv`` as (epoch, {key: value}) rows, every column but ``epoch`` and ``images``."""
    if not path.is_file():
        return []
    rows: list[tuple[int, dict[str, float | None]]] = []
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            values = {str(k): number_or_none(v) for k, v in row.items() if k not in ("epoch", "images")}
            rows.append((int(float(row.get("epoch") or len(rows) + 1)), values))
    return rows


def number_or_none(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def is_metric(value: Any) -> bool:
    return is_number(value) and math.isfinite(value)


def param_text(value: Any) -> str:
    text = "null" if value is None else str(value)
    return text if len(text) <= MAX_PARAM_CHARS else text[: MAX_PARAM_CHARS - 3] + "..."


def artifacts_beside(uri: str) -> str | None:
    """Where a new experiment keeps its files: for a SQLite store, ``mlartifacts/`` beside its
    database file (the place the user named), never MLflow's ``./mlruns`` in whatever folder
    the command ran from; None (the store's own choice) for a server or a folder store."""
    if not uri.startswith("sqlite:///"):
        return None
    database = Path(uri.removeprefix("sqlite:///").split("?", 1)[0])
    if not database.is_absolute():
        database = Path.cwd() / database
    return (database.parent / "mlartifacts").absolute().as_uri()
