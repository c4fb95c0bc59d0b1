"""The conditional view: one least-squares model of the objective on every searched key's
values at once, an F-test per key with Holm's correction over the keys, and each value's
effect as a contrast of the model's coefficients with its t-interval. Plain numbers."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cnnsweep.analysis.trials import ordered_levels

MIN_TRIALS = 3  # trials with a value, for its row to get an interval (and a verdict)
KEY_AVERAGE = "the key's average"


@dataclass(frozen=True)
class Effect:
    key: str
    value: str  # the value as the command line writes it, or a bin "(lo, hi]"
    versus: str  # what it is compared with: the binary key's other value, the key's average, the others
    view: str  # "conditional" (the answer) or "marginal"
    trials: int  # analysed trials with this value
    others: int  # analysed trials with another value of the key
    mean_objective: float  # of the trials with this value, as they are
    effect: float
    ci95_lo: float  # NaN: no interval (too few trials, or not separable from other settings)
    ci95_hi: float
    p_value: float  # this row's own test, before any correction (NaN without one)
    matters: bool  # named by the multiplicity-controlled procedure (never in the marginal view)
    scored_at: str  # AT_THE_END, or "epoch k" for a pruned sweep's common rung

    @property
    def clear(self) -> bool:
        """Whether this row's own 95% interval excludes zero (uncorrected: see ``matters``)."""
        return self.ci95_lo > 0 or self.ci95_hi < 0  # NaN compares False


@dataclass(frozen=True)
class KeyTest:
    key: str
    values: int
    p_value: float  # the F-test of all its values together
    p_holm: float  # after Holm over the keys
    matters: bool
    note: str = ""  # why it has no test, e.g. confounded with other keys


@dataclass
class Model:
    """The least-squares fit of the objective on every key's values (first value as reference),
    with the classical (normal-noise) covariance of its coefficients."""

    coefficients: np.ndarray
    covariance: np.ndarray  # of the coefficients: the noise variance times (X'X)^-1
    residual_df: int
    residual_sd: float
    columns: dict[str, list[int]]  # key -> its columns in the design, one per value after the first
    confounded: dict[str, str] = field(default_factory=dict)  # key -> why it is not in the model

    @classmethod
    def fit(cls, labels: Mapping[str, pd.Series], y: np.ndarray) -> Model | None:
        if not len(y):
            return None
        design = [np.ones(len(y))]
        columns: dict[str, list[int]] = {}
        confounded: dict[str, str] = {}
        for key, values in labels.items():
            dummies = [(values == level).to_numpy(dtype=float) for level in ordered_levels(values)[1:]]
            trial_design = np.column_stack([*design, *dummies])
            if np.linalg.matrix_rank(trial_design) < trial_design.shape[1]:
                confounded[key] = "not separable from the other searched keys in these trials"
                continue
            columns[key] = list(range(len(design), len(design) + len(dummies)))
            design.extend(dummies)
        matrix = np.column_stack(design)
        residual_df = len(y) - matrix.shape[1]
        if residual_df <= 0:
            return None
        inverse = np.linalg.inv(matrix.T @ matrix)
        coefficients = inverse @ matrix.T @ y
        residuals = y - matrix @ coefficients
        variance = float(residuals @ residuals) / residual_df
        return cls(
            coefficients=coefficients,
            covariance=variance * inverse,
            residual_df=residual_df,
            residual_sd=math.sqrt(variance),
            columns=columns,
            confounded=confounded,
        )

    def key_tests(self, alpha: float) -> dict[str, KeyTest]:
        """Each key's F-test (all its values equal, the others held fixed), Holm over the keys."""
        from scipy.stats import f as f_distribution

        tested = list(self.columns)
        p_values = []
        for key in tested:
            index = self.columns[key]
            beta = self.coefficients[index]
            block = self.covariance[np.ix_(index, index)]
            statistic = float(beta @ np.linalg.solve(block, beta)) / len(index)
            p_values.append(float(f_distribution.sf(statistic, len(index), self.residual_df)))
        adjusted = holm(p_values)
        tests = {
            key: KeyTest(
                key=key,
                values=len(self.columns[key]) + 1,
                p_value=p,
                p_holm=float(q),
                matters=bool(q < alpha),
            )
            for key, p, q in zip(tested, p_values, adjusted, strict=True)
        }
        for key, why in self.confounded.items():
            tests[key] = KeyTest(
                key=key, values=0, p_value=math.nan, p_holm=math.nan, matters=False, note=why
            )
        return tests

    def rows(
        self, key: str, values: pd.Series, y: np.ndarray, test: KeyTest, scored_at: str, alpha: float
    ) -> list[Effect]:
        """The key's rows: a binary key's second value against its first, or each value against
        the average of the key's values; each a linear contrast of the coefficients."""
        from scipy.stats import t as student

        levels = ordered_levels(values)
        if key not in self.columns:  # confounded: no estimate to give
            return [
                Effect(
                    key,
                    level,
                    KEY_AVERAGE,
                    "conditional",
                    int((values == level).sum()),
                    int((values != level).sum()),
                    float(y[(values == level).to_numpy()].mean()),
                    math.nan,
                    math.nan,
                    math.nan,
                    math.nan,
                    False,
                    scored_at,
                )
                for level in levels
            ]
        contrasts: list[tuple[str, str, np.ndarray]] = []
        if len(levels) == 2:
            vector = np.zeros(len(self.coefficients))
            vector[self.columns[key][0]] = 1.0
            contrasts.append((levels[1], levels[0], vector))
        else:
            for index, level in enumerate(levels):
                vector = np.zeros(len(self.coefficients))
                vector[self.columns[key]] = -1.0 / len(levels)
                if index:
                    vector[self.columns[key][index - 1]] += 1.0
                contrasts.append((level, KEY_AVERAGE, vector))
        quantile = float(student.ppf(0.975, self.residual_df))
        found = []
        for level, versus, vector in contrasts:
            inside = (values == level).to_numpy()
            effect = float(vector @ self.coefficients)
            error = math.sqrt(float(vector @ self.covariance @ vector))
            low, high = effect - quantile * error, effect + quantile * error
            p_value = float(2 * student.sf(abs(effect) / error, self.residual_df)) if error > 0 else 0.0
            enough = inside.sum() >= MIN_TRIALS and (~inside).sum() >= MIN_TRIALS
            if not enough:
                low = high = p_value = math.nan
            named = test.matters and enough and (len(levels) == 2 or p_value < alpha / len(levels))
            found.append(
                Effect(
                    key,
                    level,
                    versus,
                    "conditional",
                    int(inside.sum()),
                    int((~inside).sum()),
                    float(y[inside].mean()),
                    effect,
                    low,
                    high,
                    p_value,
                    bool(named),
                    scored_at,
                )
            )
        return found


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values: the smallest of m times m, the next times m - 1, ...,
    each at least the one before (a key is named when its adjusted p is below the level)."""
    order = np.argsort(p_values)
    scaled = np.asarray(p_values, dtype=float)[order] * (len(p_values) - np.arange(len(p_values)))
    adjusted = np.empty(len(p_values))
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(scaled)) if len(p_values) else []
    return [float(p) for p in adjusted]
