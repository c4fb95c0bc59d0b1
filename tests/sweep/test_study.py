"""The study: how trials are told, abandoned and counted, and when failures stop a sweep."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from cnnsweep.sweep.study import lifecycle as studies
from cnnsweep.sweep.study import records, recovery


@pytest.fixture
def study(tmp_path):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(
        storage=f"sqlite:///{tmp_path / 'optuna.db'}",
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=0),
    )


def _ask(study):
    return study.ask({"x": optuna.distributions.IntDistribution(1, 9)})


def test_a_complete_trial_keeps_its_metrics_in_one_attribute(study):
    trial = _ask(study)
    studies.tell(
        study,
        trial,
        {"status": "complete", "objective": 0.9, "test_acc": 0.88, "junk": 1},
        ("objective",),
        constrained=True,
    )
    frozen = study.get_trials()[0]
    assert frozen.state == TrialState.COMPLETE and frozen.value == 0.9
    assert records.metrics_of(frozen) == {"state": "complete", "objective": 0.9, "test_acc": 0.88}


def test_an_infeasible_trial_has_no_objective_any_tool_could_show(study):
    studies.tell(
        study,
        _ask(study),
        {"status": "infeasible", "error": "does not fit"},
        ("objective",),
        constrained=True,
    )
    studies.tell(study, _ask(study), {"status": "complete", "objective": 0.5}, ("objective",), True)
    infeasible = study.get_trials()[0]
    assert infeasible.state == TrialState.PRUNED and infeasible.values is None
    assert not infeasible.intermediate_values and records.trial_state(infeasible) == "infeasible"
    assert [t.number for t in records.best_trials(study)] == [1] and study.best_trial.number == 1


def _suggestions_in_a_region_that_does_not_fit(told_as: str) -> int:
    """40 TPE trials where x >= 5 does not fit and the best feasible x is 3: how many of
    the last 20 (after TPE's 10 random startup trials and 10 more) land at x >= 5."""
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    for _ in range(40):
        trial = _ask(study)
        x = trial.params["x"]
        if x < 5:
            metrics = {"status": "complete", "objective": -abs(x - 3.0)}
        else:
            metrics = {"status": told_as, "error": "does not fit"}
        studies.tell(study, trial, metrics, ("objective",), constrained=True)
    return sum(t.params["x"] >= 5 for t in study.get_trials()[20:])


def test_tpe_learns_to_avoid_infeasible_trials_where_failed_ones_teach_nothing():
    infeasible, failed = (_suggestions_in_a_region_that_does_not_fit(s) for s in ("infeasible", "failed"))
    assert failed >= 14  # nothing learnt: TPE keeps trying there
    assert infeasible <= failed // 2, (infeasible, failed)


def test_a_non_finite_objective_fails_the_trial(study):
    studies.tell(
        study,
        _ask(study),
        {"status": "complete", "objective": float("nan")},
        ("objective",),
        constrained=False,
    )
    frozen = study.get_trials()[0]
    assert frozen.state == TrialState.FAIL and "not finite" in records.metrics_of(frozen)["error"]


def test_an_abandoned_trial_is_failed_and_queued_again_once(study):
    trial = _ask(study)
    recovery.abandon(study, trial.number, "lost")
    assert studies.budget_of(study) == studies.Budget(done=0, running=0, waiting=1)
    retry = study.ask({"x": optuna.distributions.IntDistribution(1, 9)})
    assert retry.params == trial.params and retry.user_attrs[records.RETRY_ATTR] == trial.number
    recovery.abandon(study, retry.number, "lost again")
    assert studies.budget_of(study).waiting == 0  # a retry is not retried


def test_the_failure_rate_is_judged_from_the_fourth_finished_trial(study):
    for _ in range(3):
        studies.tell(study, _ask(study), {"status": "failed", "error": "boom"}, ("objective",), False)
    assert studies.too_many_failures(study, max_failure_rate=0.0) is None  # 3 of 3: too few to judge
    studies.tell(study, _ask(study), {"status": "complete", "objective": 0.5}, ("objective",), False)
    assert studies.too_many_failures(study, max_failure_rate=0.5) is not None


def test_too_many_failures_names_the_commonest_reasons(study):
    for status in ("failed", "failed", "failed", "complete"):
        studies.tell(
            study,
            _ask(study),
            {"status": status, "objective": 0.5, "error": "boom"},
            ("objective",),
            constrained=False,
        )
    reason = studies.too_many_failures(study, max_failure_rate=0.5)
    assert reason is not None and "3 of 4 trials failed" in reason and "3x boom" in reason
    assert studies.too_many_failures(study, max_failure_rate=0.8) is None


def test_a_changed_choice_is_refused_and_a_changed_range_allowed(caplog):
    from types import SimpleNamespace

    from cnnsweep.errors import ConfigError
    from cnnsweep.sweep.settings.space import SearchSpace

    storage = optuna.storages.InMemoryStorage()
    old = {
        "lr": optuna.distributions.FloatDistribution(0.001, 0.01, log=True),
        "filters": optuna.distributions.CategoricalDistribution([16, 32]),
    }
    study = optuna.create_study(storage=storage, study_name="s")
    study.tell(study.ask(old), 0.5)

    def settings(**space):
        return SimpleNamespace(
            study_name="s", sweep_dir="multirun/x", space=SearchSpace(distributions={**old, **space})
        )

    studies.check_space_unchanged(settings(), storage)  # the same space: nothing to say
    with caplog.at_level("INFO", logger="cnnsweep"):
        studies.check_space_unchanged(
            settings(lr=optuna.distributions.FloatDistribution(0.0005, 0.02, log=True)), storage
        )
    assert "lr from 0.001..0.01 (log) to 0.0005..0.02 (log)" in caplog.text
    with pytest.raises(ConfigError, match=r"filters was choice\(16, 32\), now choice\(8, 12\)"):
        studies.check_space_unchanged(
            settings(filters=optuna.distributions.CategoricalDistribution([8, 12])), storage
        )
    studies.check_space_unchanged(
        SimpleNamespace(study_name="new", sweep_dir="d", space=SearchSpace()), storage
    )  # a study not stored yet
