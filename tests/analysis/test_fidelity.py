"""The early epochs' honesty, held against a hand computation on synthetic curves."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from cnnsweep.analysis import fidelity


def _sweep():
    """Eight complete trials (5 epochs) whose epoch-2 scores rank them almost as their finals do,
    and three trials pruned after epoch 2: one of them as good there as a final top-3 trial."""
    finals = [0.90, 0.88, 0.86, 0.84, 0.82, 0.80, 0.78, 0.76]
    at_two = [0.70, 0.69, 0.66, 0.67, 0.60, 0.58, 0.57, 0.50]  # trials 2 and 3 swapped
    histories, rows = {}, []
    for number, (final, early) in enumerate(zip(finals, at_two, strict=True)):
        curve = [early - 0.1, early, final - 0.02, final - 0.01, final]
        histories[number] = pd.DataFrame({"epoch": range(1, 6), "val_acc": curve})
        rows.append({"trial_number": number, "state": "complete", "objective": final})
    for number, early in ((8, 0.67), (9, 0.40), (10, 0.30)):
        histories[number] = pd.DataFrame({"epoch": [1, 2], "val_acc": [early - 0.1, early]})
        rows.append({"trial_number": number, "state": "pruned", "objective": early})
    return pd.DataFrame(rows), histories, finals, at_two


def test_the_rungs_correlation_and_pruned_estimate_match_a_hand_computation():
    trials, histories, finals, at_two = _sweep()
    (rung,) = fidelity.rungs(trials, histories, "val_acc", top_k=3)
    assert rung.epoch == 2 and rung.trials == 8 and rung.pruned_here == 3
    assert rung.spearman == pytest.approx(spearmanr(at_two, finals).statistic)
    assert rung.ci95_lo <= rung.spearman <= rung.ci95_hi <= 1
    # the final top 3 (trials 0, 1, 2) scored 0.70, 0.69, 0.66 at epoch 2: trial 8's 0.67 is as good
    assert rung.might_have_made_top_k == 1 and rung.top_k == 3
    words = fidelity.in_words([rung])
    assert words.startswith(f"epoch-2 scores rank trials like the final ones: rho {rung.spearman:.2f}")
    assert "1 of 3 pruned trials might have made the top 3" in words


def test_without_pruning_every_epoch_before_the_last_is_judged_and_noise_gives_no_agreement():
    rng = np.random.default_rng(0)
    histories = {n: pd.DataFrame({"epoch": range(1, 4), "val_acc": rng.random(3)}) for n in range(30)}
    trials = pd.DataFrame(
        {
            "trial_number": range(30),
            "state": "complete",
            "objective": [h["val_acc"].iloc[-1] for h in histories.values()],
        }
    )
    found = fidelity.rungs(trials, histories, "val_acc")
    assert [r.epoch for r in found] == [1, 2]
    assert all(r.ci95_lo < 0 < r.ci95_hi for r in found)  # unrelated early scores: rho about 0
    assert "do not reliably rank" in fidelity.in_words(found)


def test_too_few_complete_trials_give_no_correlation():
    trials, histories, _, _ = _sweep()
    few = trials[trials["trial_number"].isin([0, 1, 2, 8])]
    (rung,) = fidelity.rungs(few, histories, "val_acc")
    assert math.isnan(rung.spearman) and fidelity.in_words([rung]) is None
