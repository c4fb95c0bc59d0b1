"""Repeated runs of the same configurations: is the best one really best?

Each configuration's runs differ only in their seed, so their spread is the
seed-to-seed noise. Pooled over all configurations (each contributes its runs
less one degrees of freedom), it gives every configuration a 95% t-interval of
its mean, and the lead of the best mean over the runner-up a 95% interval of its
own (a two-sample t-test with the pooled variance): the winner is *clear* when
that interval excludes zero. ``p_best`` is the probability that a configuration
has the best true mean, with each mean drawn from its normal sampling distribution
(its mean, noise / sqrt(runs)), by seeded Monte Carlo.

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


@dataclass(frozen=True)
class ConfirmedConfig:
    trial: int  # the configuration's trial number in the search
    runs: int
    mean: float
    std: float | None  # of its own runs (None for a single run)
    ci95: tuple[float, float] | None  # of its mean, with the pooled noise (None without noise)
    p_best: float  # probability that its true mean is the best


@dataclass(frozen=True)
class Confirmation:
    configs: tuple[ConfirmedConfig, ...]  # best mean first
    noise_std: float | None  # pooled seed-to-seed standard deviation (None: no repeated run)
    lead: float | None  # the best mean's lead over the runner-up's (in the better direction)
    lead_ci95: tuple[float, float] | None
    clear_winner: bool

    @property
    def best_trial(self) -> int:
        return self.configs[0].trial

    def verdict(self, objective: str) -> str:
        """One sentence: whether the winner is clear or the top configurations are within noise."""
        best = self.configs[0]
        noise = f"sd {self.noise_std:.4f}" if self.noise_std is not None else "not measured"
        if len(self.configs) == 1:
            return (f"Only trial {best.trial} was confirmed: mean {objective} {best.mean:.4f} over "
                    f"{best.runs} runs (seed-to-seed noise {noise}); there is no runner-up to compare.")
        second = self.configs[1]
        interval = (f" (95% [{self.lead_ci95[0]:.4f}, {self.lead_ci95[1]:.4f}])"
                    if self.lead_ci95 is not None else "")
        lead = f"by {self.lead:.4f}{interval}"
        if self.clear_winner:
            return (f"Trial {best.trial} is the clear winner: its mean {objective} {best.mean:.4f} over "
                    f"{best.runs} runs leads trial {second.trial}'s {second.mean:.4f} {lead}, more than "
                    f"the seed-to-seed noise ({noise}).")
        chances = ", ".join(f"trial {c.trial} {c.p_best:.2f}" for c in self.configs)
        return (f"The top {len(self.configs)} configurations are within noise of each other: trial "
                f"{best.trial} leads trial {second.trial} {lead}, with a seed-to-seed noise of {noise}. "
                f"Chance of being best: {chances}.")


def t_quantile(df: int) -> float:
    """The two-sided 95% quantile of Student's t with ``df`` degrees of freedom."""
    from scipy.stats import t

    return float(t.ppf(0.975, df))


def summarise(runs: Mapping[int, Sequence[float]], *, maximize: bool, draws: int = DRAWS,
              seed: int = SEED) -> Confirmation | None:
    """The statistics of each configuration's runs (``trial number -> objective values``).

    Returns None when no configuration has a run.
    """
    values = {trial: np.asarray([v for v in vs if v is not None and math.isfinite(v)], dtype=float)
              for trial, vs in runs.items()}
    values = {trial: v for trial, v in values.items() if len(v)}
    if not values:
        return None
    sign = 1.0 if maximize else -1.0
    order = sorted(values, key=lambda trial: (-sign * values[trial].mean(), trial))
    df = sum(len(v) - 1 for v in values.values())
    noise = None
    if df > 0:
        noise = math.sqrt(sum(((v - v.mean()) ** 2).sum() for v in values.values()) / df)
    t = t_quantile(df) if df > 0 else None
    means = np.array([values[trial].mean() for trial in order])
    counts = np.array([len(values[trial]) for trial in order])
    if noise and noise > 0:
        rng = np.random.default_rng(seed)
        sampled = means + rng.standard_normal((draws, len(order))) * noise / np.sqrt(counts)
        winners = np.argmax(sign * sampled, axis=1)
        p_best = np.bincount(winners, minlength=len(order)) / draws
    else:
        p_best = np.zeros(len(order))
        p_best[0] = 1.0
    configs = []
    for index, trial in enumerate(order):
        v = values[trial]
        half = t * noise / math.sqrt(len(v)) if t is not None and noise is not None else None
        configs.append(ConfirmedConfig(
            trial=int(trial), runs=len(v), mean=float(v.mean()),
            std=float(v.std(ddof=1)) if len(v) > 1 else None,
            ci95=(float(v.mean() - half), float(v.mean() + half)) if half is not None else None,
            p_best=float(p_best[index])))
    lead = lead_ci = None
    clear = False
    if len(order) > 1:
        lead = float(sign * (means[0] - means[1]))
        if t is not None and noise is not None:
            half = t * noise * math.sqrt(1 / counts[0] + 1 / counts[1])
            lead_ci = (lead - half, lead + half)
            clear = lead_ci[0] > 0
    return Confirmation(configs=tuple(configs), noise_std=noise, lead=lead, lead_ci95=lead_ci,
                        clear_winner=clear)
