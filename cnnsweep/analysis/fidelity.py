"""Were the early epochs honest? A pruner (or a fidelity) judges trials by their first
epochs; this checks that judgement against how the trials that trained to the end did.

For each epoch at which the sweep stopped trials (every epoch before the last, when
nothing was pruned): Spearman's rank correlation between the trials' scores at that
epoch and their final scores, over the complete trials that have both, with a 95%
percentile-bootstrap interval over those trials; and how many trials pruned at that
epoch scored there at least as well as one of the final top K did at the same epoch
(so might have made the top K had they gone on).

Plain numbers; the report words them ("epoch-2 scores rank trials like the final ones:
rho 0.81 [0.62, 0.92]; 1 pruned trial might have made the top 3").
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from cnnsweep.analysis.trials import trained_to_their_end

FIDELITY_FILE = "fidelity.csv"
FIDELITY_COLUMNS = (
    "epoch",
    "trials",
    "spearman",
    "ci95_lo",
    "ci95_hi",
    "pruned_here",
    "might_have_made_top_k",
    "top_k",
)
MIN_TRIALS = 5  # complete trials with a score at the epoch, for a correlation
RESAMPLES = 2000
SEED = 0


@dataclass(frozen=True)
class Rung:
    epoch: int
    trials: int  # complete trials with a score at this epoch and a final score
    spearman: float  # NaN: too few trials, or scores all alike
    ci95_lo: float
    ci95_hi: float
    pruned_here: int  # trials the pruner stopped after this epoch
    might_have_made_top_k: int  # of those, how many scored here as well as a final top-K trial did
    top_k: int


def _spearman(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Spearman's rho along ``axis`` (vectorised over bootstrap resamples)."""
    from scipy.stats import rankdata

    rx, ry = rankdata(x, axis=axis), rankdata(y, axis=axis)
    rx = rx - rx.mean(axis=axis, keepdims=True)
    ry = ry - ry.mean(axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(axis=axis) / np.sqrt((rx**2).sum(axis=axis) * (ry**2).sum(axis=axis))


def rungs(
    trials: pd.DataFrame,
    histories: Mapping[int, pd.DataFrame],
    objective_name: str,
    *,
    maximize: bool = True,
    top_k: int = 3,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> list[Rung]:
    """The early epochs' agreement with the final scores (one row per judged epoch).

    Args:
        trials: one row per trial: ``trial_number``, ``state``, ``objective`` (the final score).
        histories: each trial's ``history.csv``, with a column ``objective_name`` per epoch.
        maximize: whether a larger score is better (for the top K).
        top_k: the final ranking's top that a pruned trial might have joined.
    """
    from scipy.stats import bootstrap

    scores = {
        int(n): pd.to_numeric(h[objective_name], errors="coerce").to_numpy(dtype=float)
        for n, h in histories.items()
        if objective_name in h
    }
    complete = trials[trained_to_their_end(trials) & trials["objective"].notna()]
    final = {
        int(n): float(v)
        for n, v in zip(complete["trial_number"], complete["objective"], strict=True)
        if int(n) in scores
    }
    pruned = {
        int(n): len(scores[int(n)])
        for n in trials.loc[trials["state"] == "pruned", "trial_number"]
        if int(n) in scores and len(scores[int(n)])
    }
    if len(final) < 2:
        return []
    last = max(len(scores[n]) for n in final)
    epochs = sorted(set(pruned.values())) if pruned else list(range(1, last))
    sign = 1.0 if maximize else -1.0
    top = sorted(final, key=lambda n: (-sign * final[n], n))[:top_k]
    found = []
    for epoch in epochs:
        have = [n for n in final if len(scores[n]) >= epoch and math.isfinite(scores[n][epoch - 1])]
        early = np.array([scores[n][epoch - 1] for n in have])
        late = np.array([final[n] for n in have])
        rho = low = high = math.nan
        if len(have) >= MIN_TRIALS and np.ptp(early) > 0 and np.ptp(late) > 0:
            rho = float(_spearman(early, late))
            with warnings.catch_warnings():  # resamples of tied scores have no rho: left out below
                warnings.simplefilter("ignore")
                drawn = bootstrap(
                    (early, late),
                    _spearman,
                    paired=True,
                    vectorized=True,
                    n_resamples=resamples,
                    confidence_level=0.95,
                    method="percentile",
                    rng=np.random.default_rng(seed),
                ).bootstrap_distribution
            low, high = (float(v) for v in np.nanpercentile(drawn, [2.5, 97.5]))
        here = [n for n, stopped in pruned.items() if stopped == epoch]
        top_here = [scores[n][epoch - 1] for n in top if len(scores[n]) >= epoch]
        bar = (min(top_here) if maximize else max(top_here)) if top_here else math.nan
        might = sum(1 for n in here if math.isfinite(bar) and sign * (scores[n][epoch - 1] - bar) >= 0)
        found.append(Rung(epoch, len(have), rho, low, high, len(here), might, len(top)))
    return found


def rungs_frame(found: list[Rung]) -> pd.DataFrame:
    """``fidelity.csv``: one row per judged epoch."""
    return pd.DataFrame([asdict(r) for r in found], columns=list(FIDELITY_COLUMNS))


def headline(found: list[Rung]) -> Rung | None:
    """The epoch that judged most trials (the earliest among equals), or the first with a correlation."""
    judged = [r for r in found if not math.isnan(r.spearman)]
    if not judged:
        return None
    return max(judged, key=lambda r: (r.pruned_here, -r.epoch))


def in_words(found: list[Rung]) -> str | None:
    """One sentence on the early epochs' honesty, or None when nothing could be measured."""
    rung = headline(found)
    if rung is None:
        return None
    agreement = (
        "rank trials like the final ones"
        if rung.ci95_lo > 0.5
        else "rank trials somewhat like the final ones"
        if rung.ci95_lo > 0
        else "do not reliably rank trials like the final ones"
    )
    text = (
        f"epoch-{rung.epoch} scores {agreement}: rho {rung.spearman:.2f} "
        f"[{rung.ci95_lo:.2f}, {rung.ci95_hi:.2f}] over {rung.trials} complete trials"
    )
    pruned = sum(r.pruned_here for r in found)
    if pruned:
        might = sum(r.might_have_made_top_k for r in found)
        text += (
            f"; {might} of {pruned} pruned trial{'s' * (pruned != 1)} might have made the top "
            f"{rung.top_k} (they scored, where they were stopped, as well as a final top-{rung.top_k} "
            "trial did there)"
        )
    return text
