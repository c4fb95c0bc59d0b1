"""Effects with bootstrap intervals: right on fixed numbers, and right in about 95% of
seeded synthetic sweeps (a property over many draws, not one lucky table)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cnnsweep.report import effects


def _synthetic_sweep(seed: int, n: int = 40, effect: float = 0.02, noise: float = 0.01) -> pd.DataFrame:
    """Complete trials of a sweep where model.padding matters (same is ``effect`` better)
    and model.filters does not: the objective is noise around a constant otherwise."""
    rng = np.random.default_rng(seed)
    padding = rng.choice(["valid", "same"], size=n)
    filters = rng.choice([16, 32], size=n)
    objective = 0.85 + effect * (padding == "same") + rng.normal(0, noise, size=n)
    return pd.DataFrame({"model.padding": padding, "model.filters": filters, "objective": objective})


def _find(found, key, value):
    (match,) = [e for e in found if e.key == key and e.value == value]
    return match


def test_the_effect_and_counts_match_a_hand_computation():
    table = pd.DataFrame({"model.padding": ["same", "same", "same", "valid", "valid", "valid"],
                          "objective": [0.90, 0.91, 0.92, 0.85, 0.86, 0.87]})
    found = effects.effects(table, ["model.padding"], resamples=4000)
    same = _find(found, "model.padding", "same")
    assert (same.trials, same.others) == (3, 3)
    assert same.mean_objective == pytest.approx(0.91)
    assert same.effect == pytest.approx(0.91 - 0.86)
    # every resample of "same" lies in [0.90, 0.92] and of "valid" in [0.85, 0.87]
    assert 0.03 - 1e-9 <= same.ci95_lo <= same.effect <= same.ci95_hi <= 0.07 + 1e-9
    valid = _find(found, "model.padding", "valid")
    assert valid.effect == pytest.approx(-same.effect) and valid.clear and same.clear
    few = effects.effects(table.iloc[1:], ["model.padding"])  # 2 trials of "same": no interval
    two = _find(few, "model.padding", "same")
    assert math.isnan(two.ci95_lo) and not two.clear
    frame = effects.effects_frame(found)
    assert list(frame.columns) == list(effects.EFFECT_COLUMNS) and len(frame) == 2
    again = effects.effects(table, ["model.padding"], resamples=4000)
    assert again == found  # a fixed seed: the same trials give the same intervals


def test_intervals_exclude_zero_for_a_real_effect_and_cover_zero_for_none_about_95_percent():
    draws = 200
    excluded_real, covered_null = 0, 0
    for seed in range(draws):
        found = effects.effects(_synthetic_sweep(seed), ["model.padding", "model.filters"], resamples=1000,
                                seed=seed)
        excluded_real += _find(found, "model.padding", "same").clear
        null = _find(found, "model.filters", "32")
        covered_null += null.ci95_lo <= 0 <= null.ci95_hi
    assert excluded_real / draws >= 0.95  # an effect of 2 noise SDs over 40 trials is found
    assert 0.90 <= covered_null / draws <= 0.99, covered_null / draws  # a 95% interval, about


def test_a_numeric_key_with_many_values_is_binned_and_a_constant_key_skipped():
    rng = np.random.default_rng(0)
    rates = rng.uniform(1e-4, 1e-2, size=40)
    table = pd.DataFrame({"trainer.learning_rate": rates, "model.pool_size": [2] * 40,
                          "objective": 0.8 + 10 * rates})
    found = effects.effects(table, ["trainer.learning_rate", "model.pool_size"])
    assert {e.key for e in found} == {"trainer.learning_rate"}
    assert len(found) == effects.MAX_BINS and all(e.value.startswith("[") for e in found)
    assert [e.trials for e in found] == [10, 10, 10, 10]
    assert found[0].effect < 0 < found[-1].effect  # ordered by the bins' lower ends


def test_clear_effects_in_words_name_the_value_points_interval_and_counts():
    found = [effects.Effect("model.padding", "same", 14, 9, 0.9, 0.011, 0.004, 0.018),
             effects.Effect("model.filters", "32", 12, 11, 0.9, 0.001, -0.002, 0.004)]
    assert effects.clear_effects_in_words(found, points=True) == [
        "model.padding=same: +1.1 points [0.4, 1.8], 14 vs 9 trials"]
