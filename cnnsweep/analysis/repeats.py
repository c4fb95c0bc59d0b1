"""Repeated runs of the best configurations: is the best one really best?

The confirmation trains each of the search's top K configurations again with new
seeds. Only those new runs enter the statistics: the search's own run of a
configuration is the one that put it in the top K on the same validation split,
so it is biased upward (the winner's curse), and counting it would pull every
mean up and the pooled noise out of shape. It is shown beside the new runs as the
*selecting run*, with how far it overstated its configuration.

From the new runs:

- the seed-to-seed noise, pooled over the configurations (each contributes its
  runs less one degrees of freedom);
- each configuration's mean with a *simultaneous* 95% t-interval: Bonferroni over
  the K configurations, so the interval of whichever configuration comes out on
  top still covers its true mean 95% of the time, although "on top" was decided
  by the same runs;
- the winner is *clear* when its lead over every other configuration has an
  interval above zero, with the same Bonferroni quantile (under equal true means
  that verdict is wrong in at most 2.5% of confirmations);
- ``p_best``: the posterior probability that a configuration has the best true
  mean, under a flat prior on the means and the log noise, given the new runs
  (the noise is drawn from its scaled inverse chi-square, then the means), by
  seeded Monte Carlo. It does not account for how the K were chosen.

Runs that agree exactly (accuracies come in steps of one validation image) do not
mean there is no noise: the noise is then taken as one step of the validation
score (``resolution``), where it is known, and the verdict says the runs agreed.

Plain numbers: the sweep's confirmation computes them, the records and the report
show them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

DRAWS = 20000  # Monte Carlo draws for p_best
SEED = 0
LEVEL = 0.95


@dataclass(frozen=True)
class ConfirmedConfig:
    trial: int  # the configuration's trial number in the search
    runs: int  # new-seed runs
    mean: float  # of the new-seed runs
    std: float | None  # of its own new runs (None for a single run)
    ci95: tuple[float, float] | None  # of its mean: simultaneous over the configurations
    p_best: float  # probability that its true mean is the best
    selecting_run: float | None = None  # the search's run that put it in the top K
    overstated_by: float | None = None  # selecting_run - mean, in the better direction


@dataclass(frozen=True)
class Confirmation:
    configs: tuple[ConfirmedConfig, ...]  # best mean first
    noise_std: float | None  # pooled seed-to-seed standard deviation (None: no repeated run)
    lead: float | None  # the best mean's lead over the runner-up's (in the better direction)
    lead_ci95: tuple[float, float] | None  # with the same simultaneous quantile as the means
    clear_winner: bool
    runs_agree: bool = False  # every configuration's new runs gave the same score
    noise_floor: float | None = None  # the noise used when the runs agree (a validation step)

    @property
    def best_trial(self) -> int:
        return self.configs[0].trial

    def verdict(self, objective: str) -> str:
        """One sentence: whether the winner is clear or the top configurations are within noise."""
        best = self.configs[0]
        noise = f"sd {self.noise_std:.4f}" if self.noise_std is not None else "not measured"
        if self.runs_agree:
            noise = (
                f"the runs agreed exactly, so one validation step ({self.noise_floor:.4f}) stands in"
                if self.noise_floor
                else "the runs agreed exactly, so it could not be measured"
            )
        if len(self.configs) == 1:
            return (
                f"Only trial {best.trial} was confirmed: mean {objective} {best.mean:.4f} over "
                f"{best.runs} new runs (seed-to-seed noise: {noise}); there is no runner-up to compare."
            )
        second = self.configs[1]
        interval = (
            f" (95% [{self.lead_ci95[0]:.4f}, {self.lead_ci95[1]:.4f}])" if self.lead_ci95 is not None else ""
        )
        lead = f"by {self.lead:.4f}{interval}"
        if self.clear_winner:
            return (
                f"Trial {best.trial} is the clear winner: its mean {objective} {best.mean:.4f} over "
                f"{best.runs} new runs leads trial {second.trial}'s {second.mean:.4f} {lead}, more than "
                f"the seed-to-seed noise ({noise}) explains."
            )
        chances = ", ".join(f"trial {c.trial} {c.p_best:.2f}" for c in self.configs)
        return (
            f"The top {len(self.configs)} configurations are within noise of each other: trial "
            f"{best.trial} leads trial {second.trial} {lead} over new runs (seed-to-seed noise: "
            f"{noise}). Chance of being best: {chances}."
        )


def t_quantile(df: int, level: float = LEVEL, comparisons: int = 1) -> float:
    """The two-sided ``level`` quantile of Student's t with ``df`` degrees of freedom,
    Bonferroni-adjusted for ``comparisons`` intervals at once."""
    from scipy.stats import t

    return float(t.ppf(1 - (1 - level) / (2 * max(1, comparisons)), df))


def summarise(
    runs: Mapping[int, Sequence[float]],
    *,
    maximize: bool,
    selecting: Mapping[int, float] | None = None,
    resolution: float | None = None,
    draws: int = DRAWS,
    seed: int = SEED,
) -> Confirmation | None:
    """The statistics of each configuration's new-seed runs (``trial number -> objective values``).

    Args:
        runs: each confirmed configuration's new-seed objectives (never the selecting run).
        maximize: whether a larger objective is better.
        selecting: each configuration's score in the search, shown beside the new runs.
        resolution: the smallest step of the objective (1 / validation images for an
            accuracy): the noise assumed when every run agrees exactly.

    Returns None when no configuration has a run.
    """
    values = {
        trial: np.asarray([v for v in vs if v is not None and math.isfinite(v)], dtype=float)
        for trial, vs in runs.items()
    }
    values = {trial: v for trial, v in values.items() if len(v)}
    if not values:
        return None
    sign = 1.0 if maximize else -1.0
    order = sorted(values, key=lambda trial: (-sign * values[trial].mean(), trial))
    df = sum(len(v) - 1 for v in values.values())
    measured = math.sqrt(sum(((v - v.mean()) ** 2).sum() for v in values.values()) / df) if df > 0 else None
    agree = measured == 0.0
    noise = (resolution if resolution else None) if agree else measured
    k = len(order)
    q = t_quantile(df, comparisons=k) if df > 0 and noise else None
    means = np.array([values[trial].mean() for trial in order])
    counts = np.array([len(values[trial]) for trial in order])
    p_best = _p_best(means, counts, noise, df, sign, draws, seed)
    configs = []
    for index, trial in enumerate(order):
        v = values[trial]
        half = q * noise / math.sqrt(len(v)) if q is not None and noise else None
        chosen_by = (selecting or {}).get(trial)
        configs.append(
            ConfirmedConfig(
                trial=int(trial),
                runs=len(v),
                mean=float(v.mean()),
                std=float(v.std(ddof=1)) if len(v) > 1 else None,
                ci95=(float(v.mean() - half), float(v.mean() + half)) if half is not None else None,
                p_best=float(p_best[index]),
                selecting_run=None if chosen_by is None else float(chosen_by),
                overstated_by=None if chosen_by is None else float(sign * (chosen_by - v.mean())),
            )
        )
    lead = lead_ci = None
    clear = False
    if k > 1:
        lead = float(sign * (means[0] - means[1]))
        if q is not None and noise:
            half = q * noise * math.sqrt(1 / counts[0] + 1 / counts[1])
            lead_ci = (lead - half, lead + half)
            clear = all(
                sign * (means[0] - means[j]) > q * noise * math.sqrt(1 / counts[0] + 1 / counts[j])
                for j in range(1, k)
            )
    return Confirmation(
        configs=tuple(configs),
        noise_std=noise,
        lead=lead,
        lead_ci95=lead_ci,
        clear_winner=clear,
        runs_agree=agree,
        noise_floor=resolution if agree and resolution else None,
    )


def _p_best(
    means: np.ndarray, counts: np.ndarray, noise: float | None, df: int, sign: float, draws: int, seed: int
) -> np.ndarray:
    """P(each configuration's true mean is the best) under a flat prior: the noise drawn
    from its posterior (scaled inverse chi-square on ``df``), then each true mean around its
    sample mean. Without a noise estimate, the best sample mean gets all of it."""
    p_best = np.zeros(len(means))
    if not noise or df <= 0:
        p_best[0] = 1.0
        return p_best
    rng = np.random.default_rng(seed)
    sigma = noise * np.sqrt(df / rng.chisquare(df, size=(draws, 1)))
    sampled = means + rng.standard_normal((draws, len(means))) * sigma / np.sqrt(counts)
    winners = np.argmax(sign * sampled, axis=1)
    return np.bincount(winners, minlength=len(means)) / draws
