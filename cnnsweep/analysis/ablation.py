"""The ablation path: from the baseline to the best configuration one setting at a time,
each step trained with new seeds, and what each change bought.

The path's order is the one the trials already run suggest: the change with the
largest predicted gain first (:func:`path_order`). Each configuration on the path
is trained S times; from those runs alone (:func:`summarise`):

- each configuration's mean, with the seed-to-seed noise pooled over the path;
- each step's *gain* (its mean minus the one before) with a 95% t-interval;
- each step's *share* of the whole gain (baseline to best), with a 95% interval
  from the posterior of the means (flat prior, the noise itself uncertain: a
  scaled inverse chi-square), by seeded Monte Carlo.

:func:`in_words` names the one to four changes that carry most of the gain.
Plain numbers: the sweep runs the path (:mod:`cnnsweep.sweep.ablation`), the report
draws it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

ABLATION_FILE = "ablation.csv"
ABLATION_COLUMNS = (
    "step",
    "setting",
    "from",
    "to",
    "runs",
    "mean",
    "ci95_lo",
    "ci95_hi",
    "gain",
    "gain_ci95_lo",
    "gain_ci95_hi",
    "share",
    "share_ci95_lo",
    "share_ci95_hi",
    "note",
)
DRAWS = 20000
SEED = 0
EXPLAINS = 0.8  # the words name the fewest steps that carry this share of the gain (at most four)


@dataclass(frozen=True)
class Step:
    """One configuration of the path: the baseline (step 0) or one (merged: several) changes on."""

    step: int
    setting: str  # "model.padding", or "model.padding + model.kernel_size" when merged; "" at step 0
    before: str  # the values it changes from, as the command line writes them
    after: str
    runs: int
    mean: float | None
    ci95_lo: float | None
    ci95_hi: float | None
    gain: float | None  # mean minus the previous step's mean, in the better direction's sign
    gain_ci95_lo: float | None
    gain_ci95_hi: float | None
    share: float | None  # gain / the whole path's gain
    share_ci95_lo: float | None
    share_ci95_hi: float | None
    note: str = ""


@dataclass(frozen=True)
class Path:
    steps: tuple[Step, ...]
    total_gain: float | None  # the best's mean minus the baseline's
    total_ci95: tuple[float, float] | None
    noise_std: float | None

    def frame_rows(self) -> list[dict[str, object]]:
        rows = []
        for step in self.steps:
            row = asdict(step)
            row["from"], row["to"] = row.pop("before"), row.pop("after")
            rows.append({column: row[column] for column in ABLATION_COLUMNS})
        return rows


def path_order(changes: Sequence[str], predicted_gain: Mapping[str, float]) -> list[str]:
    """The changed settings, largest predicted gain first (unknown ones last, in the given order)."""
    known = [c for c in changes if c in predicted_gain and math.isfinite(predicted_gain[c])]
    unknown = [c for c in changes if c not in known]
    return sorted(known, key=lambda c: -predicted_gain[c]) + unknown


def summarise(
    steps: Sequence[tuple[str, str, str, Sequence[float], str]],
    *,
    maximize: bool = True,
    draws: int = DRAWS,
    seed: int = SEED,
) -> Path:
    """The path's statistics from each configuration's runs.

    Args:
        steps: per configuration, in path order (the baseline first): the setting it changed, the
            values before and after (text), its runs' objectives, and a note.
        maximize: whether a larger objective is better (gains are signed so that better is positive).
    """
    from scipy.stats import t as student

    sign = 1.0 if maximize else -1.0
    values = [
        np.asarray([v for v in runs if v is not None and math.isfinite(v)], dtype=float)
        for _, _, _, runs, _ in steps
    ]
    df = sum(max(0, len(v) - 1) for v in values)
    noise = math.sqrt(sum(float(((v - v.mean()) ** 2).sum()) for v in values if len(v)) / df) if df else None
    quantile = float(student.ppf(0.975, df)) if df else None
    means = [float(v.mean()) if len(v) else None for v in values]
    total = total_ci = None
    measured = [i for i, m in enumerate(means) if m is not None]
    if len(steps) > 1 and means[0] is not None and means[-1] is not None:
        total = sign * (means[-1] - means[0])
        if quantile is not None and noise:
            half = quantile * noise * math.sqrt(1 / len(values[0]) + 1 / len(values[-1]))
            total_ci = (total - half, total + half)
    shares = (
        _share_draws(values, noise, df, sign, draws, seed) if noise and len(measured) == len(values) else None
    )
    found = []
    for index, (setting, before, after, _, note) in enumerate(steps):
        v, mean = values[index], means[index]
        before_mean: float | None = means[index - 1] if index else None
        mean_half = (
            quantile * noise / math.sqrt(len(v)) if quantile is not None and noise and len(v) else None
        )
        gain = gain_lo = gain_hi = share = share_lo = share_hi = None
        if index and mean is not None and before_mean is not None:
            gain = sign * (mean - before_mean)
            if quantile is not None and noise:
                gain_half = quantile * noise * math.sqrt(1 / len(v) + 1 / len(values[index - 1]))
                gain_lo, gain_hi = gain - gain_half, gain + gain_half
            if total:
                share = gain / total
            if shares is not None:
                share_lo, share_hi = (float(x) for x in np.nanpercentile(shares[:, index - 1], [2.5, 97.5]))
        found.append(
            Step(
                index,
                setting,
                before,
                after,
                len(v),
                mean,
                None if mean_half is None or mean is None else mean - mean_half,
                None if mean_half is None or mean is None else mean + mean_half,
                gain,
                gain_lo,
                gain_hi,
                share,
                share_lo,
                share_hi,
                note,
            )
        )
    return Path(tuple(found), total, total_ci, noise)


def _share_draws(
    values: list[np.ndarray], noise: float, df: int, sign: float, draws: int, seed: int
) -> np.ndarray:
    """Draws of each step's share of the whole gain from the posterior of the path's means."""
    rng = np.random.default_rng(seed)
    sigma = noise * np.sqrt(df / rng.chisquare(df, size=(draws, 1)))
    counts = np.array([len(v) for v in values])
    spread = rng.standard_normal((draws, len(values))) * sigma / np.sqrt(counts)
    means = np.array([v.mean() for v in values]) + spread
    gains = sign * np.diff(means, axis=1)
    total = gains.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.abs(total) > 0, gains / total, np.nan)


def in_words(path: Path, *, points: bool) -> str | None:
    """The one to four changes that carry most of the gain, e.g. ``model.padding: valid -> same
    carries 70% [45, 95] of the +3.1 points``; None without a measured gain."""
    if path.total_gain is None or len(path.steps) < 2:
        return None
    scale, unit, digits = (100.0, " points", 1) if points else (1.0, "", 4)
    steps = [s for s in path.steps[1:] if s.share is not None]
    if not steps:
        return None
    if path.total_gain <= 0:
        return (
            f"the best configuration's new runs score no better than the baseline's "
            f"({path.total_gain * scale:+.{digits}f}{unit}): the path explains no gain"
        )
    chosen: list[Step] = []
    for step in sorted(steps, key=lambda s: -(s.share or 0)):
        if len(chosen) == 4 or sum(s.share or 0 for s in chosen) >= EXPLAINS:
            break
        chosen.append(step)
    parts = []
    for step in chosen:
        interval = (
            f" [{100 * step.share_ci95_lo:.0f}, {100 * step.share_ci95_hi:.0f}]"
            if step.share_ci95_lo is not None and step.share_ci95_hi is not None
            else ""
        )
        parts.append(
            f"{step.setting}: {step.before} -> {step.after} carries {100 * (step.share or 0):.0f}%{interval}"
        )
    total = f"{path.total_gain * scale:+.{digits}f}{unit}"
    if path.total_ci95 is not None:
        total += f" (95% [{path.total_ci95[0] * scale:.{digits}f}, {path.total_ci95[1] * scale:.{digits}f}])"
    return f"{'; '.join(parts)} of the {total} from the baseline to the best"
