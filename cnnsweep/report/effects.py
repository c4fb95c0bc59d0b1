"""Which settings matter, with how sure we are: each searched value's effect on the
objective, with a bootstrap interval. Plain numbers, nothing drawn.

For every searched key and each of its values (a numeric key with many values in
at most :data:`MAX_BINS` quantile bins), the effect is the mean objective of the
complete trials with that value minus the mean of the complete trials with any
other value of the key. Its 95% interval is a percentile bootstrap: both groups
of trials are resampled with replacement, each on its own, :data:`RESAMPLES`
times, from a fixed seed (the same trials give the same interval).

Only complete trials count: a pruned trial's objective is its score at the rung
where it was stopped, after fewer epochs (and, with a fidelity, on fewer images)
than a complete one, so mixing the two would credit a value with the pruner's
decisions rather than with what it trains to.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from cnnsweep.report.collect import CollectedSweep

EFFECTS_FILE = "effects.csv"
EFFECT_COLUMNS = ("key", "value", "trials", "mean_objective", "effect", "ci95_lo", "ci95_hi")
MAX_BINS = 4  # a numeric key with more distinct values is cut into this many quantile bins
MIN_TRIALS = 3  # on each side, for an interval: fewer trials cannot show their own spread
RESAMPLES = 2000
SEED = 0


@dataclass(frozen=True)
class Effect:
    key: str
    value: str  # the value as the command line writes it, or a bin "[lo, hi]"
    trials: int  # complete trials with this value
    others: int  # complete trials with another value of the key
    mean_objective: float
    effect: float  # mean_objective minus the others' mean
    ci95_lo: float
    ci95_hi: float

    @property
    def clear(self) -> bool:
        """The interval excludes zero: the data says this value moves the objective (never
        without an interval: fewer than :data:`MIN_TRIALS` trials on a side)."""
        return self.ci95_lo > 0 or self.ci95_hi < 0  # NaN compares False


def value_labels(values: pd.Series, max_bins: int = MAX_BINS) -> pd.Series:
    """Each trial's value of one key as a label: the value itself, or (a numeric key with
    more than ``max_bins`` distinct values) its quantile bin, ``[lo, hi]``."""
    clean = values.dropna()
    numeric = bool(len(clean)) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in clean)
    if not numeric or clean.nunique() <= max_bins:
        return values.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    as_float = pd.to_numeric(values, errors="coerce")
    bins = pd.qcut(as_float, q=max_bins, duplicates="drop")
    return bins.map(lambda bin_: None if pd.isna(bin_) else f"[{_num(bin_.left)}, {_num(bin_.right)}]")


def _num(value: float) -> str:
    return f"{value:.3g}"


def effects(table: pd.DataFrame, param_keys: Sequence[str], *, objective: str = "objective",
            resamples: int = RESAMPLES, seed: int = SEED) -> list[Effect]:
    """The effect of each value of each searched key, from ``table``'s complete trials.

    Args:
        table: one row per complete trial, with a column per searched key and ``objective``.
        param_keys: the searched keys; one whose trials all share a value is skipped.
        resamples: bootstrap resamples per value.
        seed: the bootstrap's seed.
    """
    rng = np.random.default_rng(seed)
    found: list[Effect] = []
    y_all = pd.to_numeric(table[objective], errors="coerce") if objective in table else pd.Series(dtype=float)
    for key in param_keys:
        if key not in table:
            continue
        labels = value_labels(table[key])
        usable = labels.notna() & y_all.notna()
        labels, y = labels[usable], y_all[usable].to_numpy(dtype=float)
        levels = sorted(set(labels), key=_level_order)
        if len(levels) < 2:
            continue
        for level in levels:
            inside = (labels == level).to_numpy()
            with_value, others = y[inside], y[~inside]
            lo, hi = (bootstrap_difference(with_value, others, rng, resamples)
                      if min(len(with_value), len(others)) >= MIN_TRIALS else (math.nan, math.nan))
            found.append(Effect(key=key, value=level, trials=len(with_value), others=len(others),
                                mean_objective=float(with_value.mean()),
                                effect=float(with_value.mean() - others.mean()), ci95_lo=lo, ci95_hi=hi))
    return found


def bootstrap_difference(a: np.ndarray, b: np.ndarray, rng: np.random.Generator,
                         resamples: int = RESAMPLES) -> tuple[float, float]:
    """The 95% percentile-bootstrap interval of ``mean(a) - mean(b)``, each group resampled
    on its own. A group of one trial has no spread to resample: its interval is its point."""
    a_means = a[rng.integers(0, len(a), size=(resamples, len(a)))].mean(axis=1)
    b_means = b[rng.integers(0, len(b), size=(resamples, len(b)))].mean(axis=1)
    lo, hi = np.percentile(a_means - b_means, [2.5, 97.5])
    return float(lo), float(hi)


def _level_order(label: str) -> tuple[int, float, str]:
    """Numbers (and bins by their lower end) in numeric order, words alphabetically."""
    text = label[1:].split(",")[0] if label.startswith("[") else label
    try:
        return (0, float(text), label)
    except ValueError:
        return (1, 0.0, label)


def sweep_effects(sweep: CollectedSweep) -> list[Effect]:
    """The effects of a collected sweep's searched values, from its complete trials."""
    return effects(sweep.complete(), sweep.param_keys)


def effects_frame(found: Sequence[Effect]) -> pd.DataFrame:
    """``effects.csv``'s table: one row per key and value."""
    rows = [{k: v for k, v in asdict(e).items() if k in EFFECT_COLUMNS} for e in found]
    return pd.DataFrame(rows, columns=list(EFFECT_COLUMNS))


def clear_effects_in_words(found: Sequence[Effect], *, points: bool) -> list[str]:
    """The values whose interval excludes zero, largest first, e.g. ``model.padding=same: +1.1
    points [0.4, 1.8], 14 vs 9 trials`` (points: an accuracy, in percentage points)."""
    scale, unit, digits = (100.0, " points", 1) if points else (1.0, "", 4)
    return [f"{e.key}={e.value}: {e.effect * scale:+.{digits}f}{unit} "
            f"[{e.ci95_lo * scale:.{digits}f}, {e.ci95_hi * scale:.{digits}f}], "
            f"{e.trials} vs {e.others} trials"
            for e in sorted((e for e in found if e.clear), key=lambda e: -abs(e.effect))]
