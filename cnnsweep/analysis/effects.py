"""Which settings matter: each searched value's effect on the objective, with the other
searched settings accounted for, and a verdict that survives the number of comparisons.

**The conditional view** (the answer). One least-squares model over the analysed
trials: the objective against every searched key at once, each key's values as
categories (a numeric key with more than :data:`~cnnsweep.analysis.trials.MAX_BINS` values in quantile bins
whose edges are values the trials took). A value's effect is then what it adds
with the other settings held fixed, so a setting the sampler happened to pair with
a good one does not inherit its credit. A binary key is one row (its second value
against its first); a key with more values has a row per value, against the
average of the key's values. Intervals are the model's 95% t-intervals, exact
for normal noise at any number of trials.

**Multiplicity.** A key *matters* when the F-test of all its values together
passes Holm's step-down correction over the searched keys (family-wise error 5%);
within a key that matters, a value is named when its own test passes Bonferroni
over the key's values. Under no effect at all, a sweep names anything in at most
about 5% of cases (``tests/analysis/test_effects.py`` simulates it).

**Which trials.** Complete trials that trained to their end. A trial stopped by
the sweep's time budget trained fewer epochs, like a pruned one, and is left out.
When too few complete trials remain for the model (a pruned sweep), every trial
that reached a common epoch is scored at that epoch instead, and every row says
so (``scored_at``). Too few even then: no conditional view, and a reason.

**The marginal view**, labelled as such: the mean of the trials with a value
minus the mean of the others (Welch's t-interval), what a plot of the raw trials
shows. It names nothing: under a sampler, the groups differ in other settings too.

Plain numbers, nothing drawn; the report draws them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from cnnsweep.analysis.trials import AT_THE_END, MIN_RESIDUAL_DF, ordered_levels, value_labels

EFFECTS_FILE = "effects.csv"
EFFECT_COLUMNS = (
    "key",
    "value",
    "versus",
    "view",
    "trials",
    "others",
    "mean_objective",
    "effect",
    "ci95_lo",
    "ci95_hi",
    "p_value",
    "matters",
    "scored_at",
)
ALPHA = 0.05  # family-wise error of "matters"
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


@dataclass(frozen=True)
class Analysis:
    effects: tuple[Effect, ...] = ()  # the conditional rows, then the marginal ones
    keys: tuple[KeyTest, ...] = ()
    trials: int = 0  # how many trials the analysis stands on
    scored_at: str = AT_THE_END
    reason: str | None = None  # why there is no conditional view
    residual_sd: float | None = None  # the model's noise: the objective's spread that settings don't explain

    @property
    def conditional(self) -> list[Effect]:
        return [e for e in self.effects if e.view == "conditional"]

    @property
    def marginal(self) -> list[Effect]:
        return [e for e in self.effects if e.view == "marginal"]

    @property
    def mattering_keys(self) -> list[KeyTest]:
        return sorted((k for k in self.keys if k.matters), key=lambda k: k.p_holm)


# ---------------------------------------------------------------- the analysis
def analyse(
    table: pd.DataFrame,
    param_keys: Sequence[str],
    *,
    objective: str = "objective",
    scored_at: str = AT_THE_END,
    alpha: float = ALPHA,
    with_marginal: bool = True,
) -> Analysis:
    """Each searched value's conditional and marginal effect on ``objective`` over ``table``'s rows.

    Args:
        table: one row per analysed trial, a column per searched key and ``objective``.
        param_keys: the searched keys; one whose trials all share a value is skipped.
        scored_at: where the trials were scored, for the rows' label.
        alpha: the family-wise error rate of the keys named as mattering.
        with_marginal: also the marginal view (which names nothing).
    """
    y_all = pd.to_numeric(table[objective], errors="coerce") if objective in table else pd.Series(dtype=float)
    keep = y_all.notna().to_numpy()
    labels = {k: value_labels(table[k])[keep].reset_index(drop=True) for k in param_keys if k in table}
    labels = {k: v for k, v in labels.items() if v.notna().all() and len(ordered_levels(v)) >= 2}
    y = y_all[keep].to_numpy(dtype=float)
    marginal = (
        [row for key, values in labels.items() for row in _marginal_rows(key, values, y, scored_at)]
        if with_marginal
        else []
    )
    model = _Model.fit(labels, y)
    if model is None or model.residual_df < MIN_RESIDUAL_DF:
        columns = 1 + sum(len(ordered_levels(v)) - 1 for v in labels.values())
        reason = (
            f"{len(y)} trials {_scored(scored_at)} for a model with {columns} parameters: the "
            f"conditional view needs at least {columns + MIN_RESIDUAL_DF}"
        )
        return Analysis(effects=tuple(marginal), trials=len(y), scored_at=scored_at, reason=reason)
    keys = model.key_tests(alpha)
    conditional = [
        row
        for key, values in labels.items()
        for row in model.rows(key, values, y, keys[key], scored_at, alpha)
    ]
    return Analysis(
        effects=tuple(conditional + marginal),
        keys=tuple(keys.values()),
        trials=len(y),
        scored_at=scored_at,
        residual_sd=model.residual_sd,
    )


def _scored(scored_at: str) -> str:
    return "complete" if scored_at == AT_THE_END else f"scored at {scored_at}"


@dataclass
class _Model:
    """The least-squares fit of the objective on every key's values (first value as reference),
    with the classical (normal-noise) covariance of its coefficients."""

    coefficients: np.ndarray
    covariance: np.ndarray  # of the coefficients: the noise variance times (X'X)^-1
    residual_df: int
    residual_sd: float
    columns: dict[str, list[int]]  # key -> its columns in the design, one per value after the first
    confounded: dict[str, str] = field(default_factory=dict)  # key -> why it is not in the model

    @classmethod
    def fit(cls, labels: Mapping[str, pd.Series], y: np.ndarray) -> _Model | None:
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


def _marginal_rows(key: str, values: pd.Series, y: np.ndarray, scored_at: str) -> list[Effect]:
    """The trials with a value against the others, as they are (Welch's t-interval)."""
    from scipy.stats import ttest_ind

    levels = ordered_levels(values)
    pairs = (
        [(levels[1], levels[0])] if len(levels) == 2 else [(level, "the other values") for level in levels]
    )
    rows = []
    for level, versus in pairs:
        inside = (values == level).to_numpy()
        group, rest = y[inside], y[~inside]
        low = high = p_value = math.nan
        if min(len(group), len(rest)) >= MIN_TRIALS and (group.std() > 0 or rest.std() > 0):
            test = ttest_ind(group, rest, equal_var=False)
            low, high = (float(v) for v in test.confidence_interval(0.95))
            p_value = float(test.pvalue)
        rows.append(
            Effect(
                key,
                level,
                versus,
                "marginal",
                len(group),
                len(rest),
                float(group.mean()),
                float(group.mean() - rest.mean()),
                low,
                high,
                p_value,
                False,
                scored_at,
            )
        )
    return rows


# ---------------------------------------------------------------- tables and words
def effects_frame(found: Sequence[Effect]) -> pd.DataFrame:
    """``effects.csv``'s table: one row per key and value and view."""
    return pd.DataFrame([asdict(e) for e in found], columns=list(EFFECT_COLUMNS))


def mattering_in_words(analysis: Analysis, *, points: bool) -> list[str]:
    """The settings the procedure names, strongest first, e.g. ``model.padding: valid vs same:
    -1.1 points [-1.8, -0.4], 14 vs 9 trials`` (points: an accuracy, in percentage points)."""
    scale, unit, digits = (100.0, " points", 1) if points else (1.0, "", 4)
    lines = []
    for test in analysis.mattering_keys:
        rows = [e for e in analysis.conditional if e.key == test.key and e.matters]
        where = "" if analysis.scored_at == AT_THE_END else f", at {analysis.scored_at}"
        if not rows:
            lines.append(
                f"{test.key}: its values differ (F-test, Holm-adjusted p {test.p_holm:.3g}{where}), "
                "though no single value stands apart from the key's average"
            )
        for e in sorted(rows, key=lambda e: -abs(e.effect)):
            compared = f"{e.value} vs {e.versus}"
            lines.append(
                f"{e.key}: {compared}: {e.effect * scale:+.{digits}f}{unit} "
                f"[{e.ci95_lo * scale:.{digits}f}, {e.ci95_hi * scale:.{digits}f}], "
                f"{e.trials} vs {e.others} trials{where}"
            )
    return lines
