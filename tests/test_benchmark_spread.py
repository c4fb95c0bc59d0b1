"""Benchmark 4's lead claim under its null: when no side is better, how often does the
procedure of ``benchmarks.measure.spread`` say cnnsweep leads?"""

import numpy as np
import pytest

from benchmarks.measure import spread

SIMULATIONS = 2000
PROTOCOLS = {"cnnsweep": 2, "peer": 2, "optuna": 2, "longer": 2}


def null_rounds(rng, sides, rounds, noise_points=0.3):
    """Rounds where every side draws from the same accuracy: any lead is noise."""
    return [
        {"protocol": 2, "test_acc": {side: 0.93 + rng.normal(0, noise_points / 100) for side in sides}}
        for _ in range(rounds)
    ]


@pytest.mark.parametrize("rounds", [3, 5])
def test_an_interval_excludes_zero_about_one_time_in_twenty_when_two_sides_are_equal(rounds):
    rng = np.random.default_rng(0)
    excluded = 0
    for _ in range(SIMULATIONS):
        runs = null_rounds(rng, ["cnnsweep", "peer"], rounds)
        low, high = spread.summary(runs, PROTOCOLS)["leads"]["peer"]["ci95_points"]
        excluded += low > 0 or high < 0
    assert 0.03 <= excluded / SIMULATIONS <= 0.07


def test_a_clear_lead_over_every_side_is_claimed_at_most_one_time_in_twenty_under_the_null():
    """The verdict's claim: at least 0.5 points over every side, each interval above zero. With
    the seed-to-seed noise as large as the target (0.5 points), it still holds at most 5%."""
    rng = np.random.default_rng(1)
    claimed = sum(
        spread.summary(null_rounds(rng, ["cnnsweep", "optuna", "longer"], 3, noise_points=0.5), PROTOCOLS)[
            "lead_met"
        ]
        for _ in range(SIMULATIONS)
    )
    assert claimed / SIMULATIONS <= 0.05


def test_a_real_lead_is_found_and_one_round_claims_nothing():
    rng = np.random.default_rng(2)
    runs = [
        {
            "protocol": 2,
            "test_acc": {"cnnsweep": 0.945 + rng.normal(0, 0.001), "peer": 0.93 + rng.normal(0, 0.001)},
        }
        for _ in range(3)
    ]
    found = spread.summary(runs, PROTOCOLS)
    assert found["lead_met"] and found["leads"]["peer"]["points"] == pytest.approx(1.5, abs=0.3)
    assert found["sides"]["cnnsweep"]["rounds"] == 3 and found["accuracy_met"]
    one = spread.summary(runs[:1], PROTOCOLS)
    assert one["leads"]["peer"]["ci95_points"] is None and not one["lead_met"]


def test_a_sides_rounds_of_another_protocol_are_never_pooled():
    runs = [
        {"protocol": 1, "test_acc": {"cnnsweep": 0.99, "peer": 0.5}},
        {"protocol": 2, "test_acc": {"cnnsweep": 0.93, "peer": 0.93}},
        {"protocol": {"cnnsweep": 3, "peer": 2}, "test_acc": {"cnnsweep": 0.94, "peer": 0.92}},
    ]
    assert spread.side_accuracies(runs, {"cnnsweep": 3, "peer": 2}) == {
        "cnnsweep": [0.94],
        "peer": [0.93, 0.92],
    }
    assert spread.side_accuracies([{"date": "old", "best_test_acc": {"cnnsweep": 0.9}}], PROTOCOLS) == {}
