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
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from cnnsweep.analysis.conditional import MIN_TRIALS, Effect, KeyTest, Model
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
    model = Model.fit(labels, y)
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
