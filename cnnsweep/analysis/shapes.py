"""The lesson's shapes against the objective: what kernel, strides and padding did to the
feature maps, and what that did to the score.

Every run records, from its architecture plan (no Keras needed), the feature map's
side at Flatten, the numbers Flatten hands the Dense head, the receptive field of
the last convolution and the multiply-adds per image (:data:`QUANTITIES`). Here they
meet the objective:

- :func:`quantity_effects`: each quantity's slope, the objective's change per
  doubling of the quantity (least squares on log2 of it, a 95% t-interval), over the
  analysed trials: a marginal view, since the quantities follow from the settings;
- :func:`two_way_tables`: the lesson's trio in pairs (kernel x padding, strides x
  padding, kernel x strides), each cell's mean objective with its t-interval and
  count, and cells whose every trial could not be built marked as such.

Plain numbers; the report draws and words them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cnnsweep.analysis.effects import AT_THE_END, Effect

if TYPE_CHECKING:  # a plan is handed in; the analysis never plans (nor imports what planning needs)
    from cnnsweep.plan import ArchitecturePlan

QUANTITIES = ("flatten_side", "flatten_values", "receptive_field", "macs_per_image", "params_count")
TRIO = ("model.kernel_size", "model.strides", "model.padding")
SHAPE_TABLES_FILE = "shape_tables.csv"
SHAPE_TABLE_COLUMNS = (
    "table",
    "row_key",
    "row_value",
    "column_key",
    "column_value",
    "trials",
    "mean_objective",
    "ci95_lo",
    "ci95_hi",
    "infeasible",
    "note",
)
CANNOT_BE_BUILT = "cannot be built"


def quantity_effects(
    table: pd.DataFrame, *, objective: str = "objective", scored_at: str = AT_THE_END
) -> list[Effect]:
    """Each shape quantity's effect per doubling on ``objective`` over ``table``'s trials, as rows
    of ``effects.csv`` (view ``shape``; they name nothing)."""
    from scipy.stats import t as student

    found = []
    for quantity in QUANTITIES:
        if quantity not in table or objective not in table:
            continue
        x = pd.to_numeric(table[quantity], errors="coerce")
        y = pd.to_numeric(table[objective], errors="coerce")
        usable = x.notna() & y.notna() & (x > 0)
        x, y = np.log2(x[usable].to_numpy(dtype=float)), y[usable].to_numpy(dtype=float)
        if len(x) < 4 or np.ptp(x) == 0:
            continue
        slope, intercept = np.polyfit(x, y, 1)
        residuals = y - (slope * x + intercept)
        df = len(x) - 2
        error = math.sqrt(float(residuals @ residuals) / df / float(((x - x.mean()) ** 2).sum()))
        half = float(student.ppf(0.975, df)) * error
        p_value = float(2 * student.sf(abs(slope) / error, df)) if error > 0 else 0.0
        found.append(
            Effect(
                quantity,
                "x2",
                "half as many",
                "shape",
                len(x),
                0,
                float(y.mean()),
                float(slope),
                float(slope - half),
                float(slope + half),
                p_value,
                False,
                scored_at,
            )
        )
    return found


@dataclass(frozen=True)
class Cell:
    table: str
    row_key: str
    row_value: str
    column_key: str
    column_value: str
    trials: int  # analysed trials in the cell
    mean_objective: float
    ci95_lo: float
    ci95_hi: float
    infeasible: int  # trials of the cell that could not be built
    note: str


def two_way_tables(
    trials: pd.DataFrame, analysed: pd.DataFrame, param_keys: Sequence[str], *, objective: str = "objective"
) -> list[Cell]:
    """The lesson's trio in pairs: every combination of two searched keys of kernel size,
    strides and padding that the sweep tried, with the analysed trials' mean objective.

    Args:
        trials: every trial of the sweep (for the ones that could not be built).
        analysed: the trials the effects stand on, with ``objective``.
        param_keys: the searched keys; a pair needs both searched.
    """
    from scipy.stats import t as student

    cells: list[Cell] = []
    searched = [k for k in TRIO if k in param_keys and k in trials]
    for row_key, column_key in itertools.combinations(searched, 2):
        name = f"{_short(row_key)} x {_short(column_key)}"
        combos = sorted(
            {
                (str(r), str(c))
                for r, c in zip(trials[row_key], trials[column_key], strict=True)
                if pd.notna(r) and pd.notna(c)
            },
            key=lambda rc: (_order(rc[0]), _order(rc[1])),
        )
        for row_value, column_value in combos:
            inside = analysed[
                (analysed[row_key].astype(str) == row_value)
                & (analysed[column_key].astype(str) == column_value)
            ]
            y = pd.to_numeric(inside[objective], errors="coerce").dropna().to_numpy(dtype=float)
            tried = trials[
                (trials[row_key].astype(str) == row_value) & (trials[column_key].astype(str) == column_value)
            ]
            infeasible = int((tried["state"] == "infeasible").sum())
            mean = float(y.mean()) if len(y) else math.nan
            low = high = math.nan
            if len(y) >= 2 and y.std(ddof=1) > 0:
                half = float(student.ppf(0.975, len(y) - 1)) * float(y.std(ddof=1)) / math.sqrt(len(y))
                low, high = mean - half, mean + half
            note = (
                CANNOT_BE_BUILT
                if infeasible and infeasible == len(tried)
                else "no analysed trial"
                if not len(y)
                else "one trial: no interval"
                if len(y) == 1
                else ""
            )
            cells.append(
                Cell(
                    name,
                    row_key,
                    row_value,
                    column_key,
                    column_value,
                    len(y),
                    mean,
                    low,
                    high,
                    infeasible,
                    note,
                )
            )
    return cells


def cells_frame(cells: Sequence[Cell]) -> pd.DataFrame:
    """``shape_tables.csv``: one row per cell of every two-way table."""
    return pd.DataFrame([cell.__dict__ for cell in cells], columns=list(SHAPE_TABLE_COLUMNS))


def pivot(cells: Sequence[Cell], table: str, *, points: bool) -> pd.DataFrame:
    """One two-way table as a grid of ``mean [lo, hi] (n)`` strings, for the report."""
    rows = [c for c in cells if c.table == table]
    scale, digits = (100.0, 1) if points else (1.0, 4)

    def text(cell: Cell) -> str:
        if cell.note == CANNOT_BE_BUILT:
            return CANNOT_BE_BUILT
        if not cell.trials:
            return "-"
        interval = (
            f" [{cell.ci95_lo * scale:.{digits}f}, {cell.ci95_hi * scale:.{digits}f}]"
            if not math.isnan(cell.ci95_lo)
            else ""
        )
        return f"{cell.mean_objective * scale:.{digits}f}{interval} ({cell.trials})"

    frame = pd.DataFrame([{"row": c.row_value, "column": c.column_value, "text": text(c)} for c in rows])
    if frame.empty:
        return frame
    grid = frame.pivot(index="row", columns="column", values="text").fillna("-")
    grid = grid.reindex(sorted(grid.index, key=_order)).reindex(columns=sorted(grid.columns, key=_order))
    grid.index.name = _short(rows[0].row_key)
    grid.columns.name = _short(rows[0].column_key)
    return grid


def _count(value: int) -> str:
    """``5,888``, ``1.2 M``, ``3.4 G``: a count as a reader takes it in."""
    for unit, size in (("G", 1e9), ("M", 1e6)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:,}"


def _short(key: str) -> str:
    return key.split(".")[-1]


def _order(value: str) -> tuple[int, float, str]:
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


def describe_plan(plan: ArchitecturePlan, model: Mapping[str, Any]) -> str:
    """What a configuration does to the feature maps, in the lesson's words, e.g. ``kernel 5,
    strides 1, padding valid: the first convolution takes 28 to 24, pooling to 12; Flatten sees
    12x12x32 = 4,608 values; the last convolution sees 5x5 input pixels; 1.2 M multiply-adds``."""
    first_conv = next((layer for layer in plan.layers if layer.kind == "Conv2D"), None)
    side = plan.input_shape[0]
    parts = [
        f"kernel {model.get('kernel_size')}, strides {model.get('strides')}, padding {model.get('padding')}"
    ]
    if first_conv is not None:
        verb = "keeps" if first_conv.output_shape[0] == side else "takes"
        moved = f"{side} at {side}" if verb == "keeps" else f"{side} to {first_conv.output_shape[0]}"
        sides = plan.block_sides
        pooled = f", block 1 ends at {sides[0]}" if sides and sides[0] != first_conv.output_shape[0] else ""
        parts.append(f"the first convolution {verb} {moved}{pooled}")
    height, width, filters = plan.flatten_shape
    pooled_globally = any(layer.kind == "GlobalAveragePooling2D" for layer in plan.layers)
    head = "global pooling" if pooled_globally else "Flatten"
    parts.append(
        f"{head} sees {height}x{width}x{filters} = {plan.flatten_values:,} values"
        if head == "Flatten"
        else f"{head} sees {plan.flatten_values:,} values"
    )
    field_ = plan.receptive_field
    parts.append(f"the last convolution sees {field_}x{field_} input pixels")
    if plan.is_graph:
        parts.append("residual blocks add each block's input to its output")
    parts.append(
        f"{_count(plan.macs_per_image)} multiply-adds per image and {plan.params_count:,} parameters"
    )
    return "; ".join(parts)
