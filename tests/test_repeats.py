"""The statistics of repeated runs, held against a hand computation on fixed numbers."""

from __future__ import annotations

import math

import pytest

from cnnsweep import repeats

# Three configurations, three runs each: trial 7 best, trial 2 close behind, trial 5 far.
RUNS = {7: [0.90, 0.91, 0.92], 2: [0.89, 0.90, 0.91], 5: [0.80, 0.81, 0.82]}


def test_means_intervals_noise_and_lead_match_a_hand_computation():
    summary = repeats.summarise(RUNS, maximize=True)
    assert [c.trial for c in summary.configs] == [7, 2, 5] and summary.best_trial == 7
    # each configuration: sum of squares 0.0002 over 2 degrees of freedom; pooled over 6
    noise = math.sqrt(3 * 0.0002 / 6)
    assert summary.noise_std == pytest.approx(noise)  # 0.01
    t6 = 2.446911851  # Student's t, 97.5% quantile, 6 degrees of freedom
    best = summary.configs[0]
    assert (best.runs, best.mean, best.std) == (3, pytest.approx(0.91), pytest.approx(0.01))
    assert best.ci95 == pytest.approx((0.91 - t6 * noise / math.sqrt(3), 0.91 + t6 * noise / math.sqrt(3)))
    assert summary.lead == pytest.approx(0.01)
    half = t6 * noise * math.sqrt(2 / 3)
    assert summary.lead_ci95 == pytest.approx((0.01 - half, 0.01 + half))
    assert summary.clear_winner is False  # 0.01 ahead, but the interval reaches below zero
    assert sum(c.p_best for c in summary.configs) == pytest.approx(1.0)
    assert summary.configs[0].p_best > summary.configs[1].p_best > 0.1 > summary.configs[2].p_best
    # P(trial 7's mean > trial 2's) = Phi(0.01 / (noise * sqrt(2/3))) = Phi(1.2247) = 0.8897
    assert summary.configs[0].p_best == pytest.approx(0.8897, abs=0.01)
    assert summary.verdict("val_acc").startswith("The top 3 configurations are within noise of each other: "
                                                 "trial 7 leads trial 2 by 0.0100 (95% [-0.0100, 0.0300])")


def test_a_lead_larger_than_the_noise_is_a_clear_winner_and_minimising_flips_the_order():
    clear = repeats.summarise({1: [0.95, 0.951, 0.949], 2: [0.90, 0.901, 0.899]}, maximize=True)
    assert clear.clear_winner and clear.best_trial == 1 and clear.lead_ci95[0] > 0
    assert clear.verdict("val_acc").startswith(
        "Trial 1 is the clear winner: its mean val_acc 0.9500 over 3 runs")
    losses = repeats.summarise({1: [0.95, 0.951, 0.949], 2: [0.90, 0.901, 0.899]}, maximize=False)
    assert losses.best_trial == 2 and losses.lead == pytest.approx(0.05)


def test_single_runs_have_no_noise_to_judge_by():
    summary = repeats.summarise({3: [0.9], 4: [0.8]}, maximize=True)
    assert summary.noise_std is None and summary.configs[0].ci95 is None and not summary.clear_winner
    assert [c.p_best for c in summary.configs] == [1.0, 0.0]
    assert repeats.summarise({3: []}, maximize=True) is None
    only = repeats.summarise({3: [0.9, 0.91]}, maximize=True)
    assert only.verdict("val_acc").startswith("Only trial 3 was confirmed")
