"""Which trials an analysis stands on, and each searched key's values as categories.

Complete trials that trained to their end; a pruned sweep's trials at the latest
epoch enough of them reached. A numeric key with many values is cut into quantile
bins whose edges are values the trials took.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from cnnsweep.numbers import is_number

MAX_BINS = 4  # a numeric key with more distinct values is cut into this many quantile bins
MIN_RESIDUAL_DF = 5  # trials beyond the model's parameters, for a conditional view at all
AT_THE_END = "the end of training"


# ---------------------------------------------------------------- values as categories
def value_labels(values: pd.Series, max_bins: int = MAX_BINS) -> pd.Series:
    """Each trial's value of one key as a label: the value itself, or (a numeric key with more
    than ``max_bins`` distinct values) its quantile bin. Bin edges are values the trials took:
    the first bin ``[lo, hi]`` holds its lowest value, later ones ``(lo, hi]``."""
    clean = values.dropna()
    numeric = bool(len(clean)) and all(is_number(v) for v in clean)
    if not numeric or clean.nunique() <= max_bins:
        return values.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    as_float = pd.to_numeric(values, errors="coerce")
    observed = np.sort(as_float.dropna().unique())
    edges = np.unique(np.quantile(as_float.dropna(), np.linspace(0, 1, max_bins + 1), method="inverted_cdf"))
    edges[0], edges[-1] = observed[0], observed[-1]

    def label(value: float) -> str | None:
        if math.isnan(value):
            return None
        upper = int(np.searchsorted(edges[1:], value, side="left")) + 1
        upper = min(upper, len(edges) - 1)
        opening = "[" if upper == 1 else "("
        return f"{opening}{_num(edges[upper - 1])}, {_num(edges[upper])}]"

    return as_float.map(label)


def _num(value: float) -> str:
    return f"{value:.3g}"


def _level_order(label: str) -> tuple[int, float, str]:
    """Numbers (and bins by their lower end) in numeric order, words alphabetically."""
    text = label[1:].split(",")[0] if label[:1] in "[(" else label
    try:
        return (0, float(text), label)
    except ValueError:
        return (1, 0.0, label)


def ordered_levels(labels: pd.Series) -> list[str]:
    return sorted(set(labels.dropna()), key=_level_order)


# ---------------------------------------------------------------- which trials
def analysed_trials(
    trials: pd.DataFrame,
    param_keys: Sequence[str],
    histories: Mapping[int, pd.DataFrame] | None = None,
    objective_name: str = "objective",
) -> tuple[pd.DataFrame, str]:
    """The trials the analysis stands on and where they are scored.

    Complete trials that trained to their end, when there are enough of them for the joint
    model; else (a pruned sweep) every complete, pruned or budget-stopped trial that reached
    the latest epoch enough of them reached, scored at that epoch.

    Returns:
        A table with the searched keys and ``objective``, and ``AT_THE_END`` or ``"epoch k"``.
    """
    finished = trials[trained_to_their_end(trials)].dropna(subset=["objective"])
    if len(finished) >= _needed(finished, param_keys) or not histories:
        return finished, AT_THE_END
    reached = trials[trials["state"].isin(["complete", "pruned"])]
    scores: dict[int, pd.Series] = {}
    for number in reached["trial_number"]:
        history = histories.get(int(number))
        if history is not None and objective_name in history:
            values = pd.to_numeric(history[objective_name], errors="coerce")
            scores[int(number)] = values.reset_index(drop=True)
    for epoch in range(max((len(s) for s in scores.values()), default=0), 0, -1):
        at_epoch = {
            n: s.iloc[epoch - 1] for n, s in scores.items() if len(s) >= epoch and pd.notna(s.iloc[epoch - 1])
        }
        rows = reached[reached["trial_number"].isin(list(at_epoch))].copy()
        rows["objective"] = rows["trial_number"].map(at_epoch)
        if len(rows) > len(finished) and len(rows) >= _needed(rows, param_keys):
            return rows, f"epoch {epoch}"
    return finished, AT_THE_END


def _needed(table: pd.DataFrame, param_keys: Sequence[str]) -> int:
    """Trials the joint model needs: one per parameter and :data:`MIN_RESIDUAL_DF` more."""
    searched = [k for k in param_keys if k in table]
    columns = 1 + sum(max(0, len(ordered_levels(value_labels(table[k]))) - 1) for k in searched)
    return columns + MIN_RESIDUAL_DF


# ---------------------------------------------------------------- a budget too short to search
def trained_to_their_end(trials: pd.DataFrame) -> pd.Series:
    """Which trials trained to their last epoch: complete, and not stopped by the time budget."""
    complete = trials["state"] == "complete"
    return complete & trials["stopped_by"].isna() if "stopped_by" in trials else complete


def budget_caution(ended: int, total: int, cut: int) -> str | None:
    """Words for a search the time budget (``hydra.sweeper.timeout``) cut so short that at most
    one of its ``total`` trials trained to its last epoch (``ended``) while ``cut`` were stopped
    by it: the search could not compare finished models, and training one model for the whole
    budget may score higher than searching. None when the search is not that short."""
    if not cut or ended > 1:
        return None
    return (
        f"the time budget cut this search short: {ended} of {total} trials trained to their "
        f"last epoch ({cut} stopped by hydra.sweeper.timeout), so it could not compare finished "
        "models. With a budget this small, one model trained for all of it may score higher "
        "than a search: add trainer.refit_seconds=S (the budget in seconds) to the command above"
    )
