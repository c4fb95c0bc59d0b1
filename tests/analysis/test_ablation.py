"""The ablation path's numbers, held against hand computations."""

from __future__ import annotations

import math

import pytest
from scipy.stats import t as student

from cnnsweep.analysis import ablation


def test_gains_shares_and_intervals_match_a_hand_computation():
    steps = [
        ("", "", "", [0.80, 0.81, 0.82], ""),
        ("model.padding", "valid", "same", [0.87, 0.88, 0.89], ""),
        ("model.filters", "128", "32", [0.88, 0.89, 0.90], ""),
    ]
    path = ablation.summarise(steps)
    noise = 0.01  # every configuration: sd 0.01 over 2 degrees of freedom
    assert path.noise_std == pytest.approx(noise)
    assert path.total_gain == pytest.approx(0.08)
    half = student.ppf(0.975, 6) * noise * math.sqrt(2 / 3)
    padding, filters = path.steps[1], path.steps[2]
    assert padding.gain == pytest.approx(0.07) and filters.gain == pytest.approx(0.01)
    assert (padding.gain_ci95_lo, padding.gain_ci95_hi) == pytest.approx((0.07 - half, 0.07 + half))
    assert padding.share == pytest.approx(0.875) and filters.share == pytest.approx(0.125)
    assert padding.share_ci95_lo < 0.875 < padding.share_ci95_hi
    words = ablation.in_words(path, points=True)
    assert words.startswith(f"model.padding: valid -> same carries {100 * padding.share:.0f}% [")
    assert "of the +8.0 points (95% [" in words and "model.filters" not in words  # 88% alone is enough
    rows = path.frame_rows()
    assert list(rows[0]) == list(ablation.ABLATION_COLUMNS) and rows[1]["from"] == "valid"


def test_the_words_name_the_fewest_changes_that_carry_most_of_the_gain():
    steps = [
        ("", "", "", [0.800, 0.801], ""),
        ("a", "1", "2", [0.890, 0.891], ""),
        ("b", "1", "2", [0.900, 0.901], ""),
    ]
    path = ablation.summarise(steps)
    words = ablation.in_words(path, points=True)
    assert words.startswith("a: 1 -> 2 carries") and "b: 1 -> 2" not in words  # a alone carries 90%


def test_the_path_order_puts_the_largest_predicted_gain_first_and_unknowns_last():
    order = ablation.path_order(["a", "b", "c", "d"], {"a": 0.01, "b": 0.05, "d": -0.02})
    assert order == ["b", "a", "d", "c"]


def test_no_gain_is_said_plainly():
    path = ablation.summarise([("", "", "", [0.9, 0.91], ""), ("a", "1", "2", [0.85, 0.86], "")])
    assert "explains no gain" in ablation.in_words(path, points=True)


def test_under_the_null_a_steps_gain_interval_excludes_zero_in_about_5_percent_of_paths():
    """Five steps, two seeds each, every configuration equally good: each step's 95% interval
    must exclude zero about one time in twenty (the words call such a step a gain)."""
    import numpy as np

    rng = np.random.default_rng(31)
    excluded = checked = 0
    for _ in range(800):
        steps = [("", "", "", list(0.9 + rng.normal(0, 0.01, 2)), "")]
        steps += [(f"k{i}", "a", "b", list(0.9 + rng.normal(0, 0.01, 2)), "") for i in range(5)]
        for step in ablation.summarise(steps, draws=200).steps[1:]:
            checked += 1
            excluded += step.gain_ci95_lo > 0 or step.gain_ci95_hi < 0
    assert 0.03 <= excluded / checked <= 0.07, excluded / checked
