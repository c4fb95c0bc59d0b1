"""The ensemble's decisions, without Keras: which runs it averages (validation order, never the
test split), what it skips, and the accuracy of the average, from saved test probabilities."""

from __future__ import annotations

import re

import numpy as np
import pytest

from cnnsweep import run_files
from cnnsweep.errors import ConfigError
from cnnsweep.sweep import ensemble
from cnnsweep.sweep.loops import work
from cnnsweep.sweep.study import records
from tests.sweep.composed import sweep_settings
from tests.sweep.test_loop import make_sweep

LABELS = np.array([0, 1, 2, 0, 1, 2])


def save_scores(run_dir, probabilities, labels=LABELS):
    run_files.write_run(run_dir, {"status": "complete"}, {}, test_scores=(np.asarray(probabilities), labels))


def one_hot_with(wrong: list[int], confidence: float = 0.9) -> np.ndarray:
    """Probabilities that put ``confidence`` on the true class, except on ``wrong`` images,
    where they put it on the next class."""
    predicted = LABELS.copy()
    predicted[wrong] = (predicted[wrong] + 1) % 3
    probabilities = np.full((len(LABELS), 3), (1 - confidence) / 2)
    probabilities[np.arange(len(LABELS)), predicted] = confidence
    return probabilities


def test_the_mean_of_the_members_probabilities_outvotes_each_ones_mistakes():
    # Each member misses a different pair of images; two of three are right on every image.
    members = [one_hot_with([0, 1]), one_hot_with([2, 3]), one_hot_with([4, 5])]
    assert [ensemble.average_accuracy([(p, LABELS)]) for p in members] == pytest.approx([4 / 6] * 3)
    assert ensemble.average_accuracy([(p, LABELS) for p in members]) == 1.0
    # A confident mistake outweighs two hesitant right answers: the probabilities average,
    # the votes do not count.
    sure, unsure = one_hot_with([0], confidence=1.0), one_hot_with([], confidence=0.4)
    assert ensemble.average_accuracy([(sure, LABELS), (unsure, LABELS), (unsure, LABELS)]) == 5 / 6


def test_the_ensemble_takes_the_refit_then_the_best_trials_by_validation(tmp_path):
    sweep = make_sweep(tmp_path, "hydra.sweeper.n_trials=4", "hydra.sweeper.ensemble=3")
    work(sweep)  # the fake launcher's objective grows with the trial number: 3 is best
    sweep.study.set_user_attr(records.REFIT_ATTR, {"status": "complete", "dir": "refit-3", "trial": 3})
    save_scores(tmp_path / "refit-3", one_hot_with([0, 1]))
    save_scores(tmp_path / "3", one_hot_with([2, 3]))
    save_scores(tmp_path / "2", one_hot_with([4, 5]))
    save_scores(tmp_path / "1", one_hot_with([0, 1, 2, 3, 4, 5]))  # the worst: never taken
    ensemble.run(sweep)
    record = sweep.study.user_attrs[records.ENSEMBLE_ATTR]
    assert record == {
        "size": 3,
        "members": ["refit-3", "trial 3", "trial 2"],
        "status": "complete",
        "test_acc": 1.0,
    }


def test_a_run_without_usable_probabilities_is_left_out_and_said(tmp_path, caplog):
    sweep = make_sweep(tmp_path, "hydra.sweeper.n_trials=4", "hydra.sweeper.ensemble=2")
    work(sweep)
    # trial 3 saved none (a run from before runs kept them); trial 2 scored another test split
    save_scores(tmp_path / "2", one_hot_with([])[:3], LABELS[:3])
    save_scores(tmp_path / "1", one_hot_with([0]))
    save_scores(tmp_path / "0", one_hot_with([1]))
    (tmp_path / "0" / run_files.PROBABILITIES_FILE).write_bytes(b"not a zip")  # torn: unreadable
    with caplog.at_level("WARNING", logger="cnnsweep"):
        ensemble.run(sweep)
    record = sweep.study.user_attrs[records.ENSEMBLE_ATTR]
    assert record["status"] == "skipped" and record["members"] == ["trial 2"]
    assert record["error"] == "1 run(s) to average, 2 needed"
    said = caplog.text
    assert "trial 3" in said and "trial 1" in said and "trial 0" in said and "ensemble skipped" in said


def test_the_ensemble_is_in_the_records(tmp_path):
    sweep = make_sweep(tmp_path, "hydra.sweeper.n_trials=2", "hydra.sweeper.ensemble=2")
    work(sweep)
    save_scores(tmp_path / "1", one_hot_with([0, 1]))
    save_scores(tmp_path / "0", one_hot_with([2]))
    ensemble.run(sweep)
    target = records.write_optimization_results(tmp_path, sweep.study, ["val_acc"], "memory")
    import yaml

    written = yaml.safe_load(target.read_text())["ensemble"]
    assert written["members"] == ["trial 1", "trial 0"] and written["test_acc"] == pytest.approx(5 / 6)


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        (("hydra.sweeper.ensemble=1",), "must be a whole number of at least 2"),
        (("hydra.sweeper.ensemble=-2",), "must be a whole number of at least 2"),
        (
            ("hydra.sweeper.ensemble=3", "hydra.sweeper.objectives=[objective,params_count]"),
            "a single objective",
        ),
    ],
)
def test_a_bad_ensemble_size_is_refused_with_the_fix(tmp_path, overrides, says):
    with pytest.raises(ConfigError, match=re.escape(says)):
        sweep_settings(*overrides, sweep_dir=str(tmp_path))
