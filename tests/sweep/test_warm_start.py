"""hydra.sweeper.warm_start: a new study tries an earlier study's best configurations first,
and with tell=true learns from its finished trials, which stay out of this sweep's records."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState

from cnnsweep.errors import ConfigError
from cnnsweep.sweep.study import lifecycle as studies
from cnnsweep.sweep.study import records
from cnnsweep.sweep.study.storage import open_storage
from tests.sweep.composed import sweep_settings

FILTERS = CategoricalDistribution([8, 16, 32, 64, 128])
DROPOUT = FloatDistribution(0.0, 0.5)


def earlier_sweep(sweep_dir, trials):
    """A finished sweep's own optuna.db: ``trials`` is a list of (params, state, value)."""
    sweep_dir.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(
        storage=f"sqlite:///{sweep_dir / 'optuna.db'}", study_name="earlier", direction="maximize"
    )
    for params, state, value in trials:
        distributions = {"model.filters": FILTERS, "model.dropout": DROPOUT}
        study.add_trial(
            optuna.trial.create_trial(
                params=params,
                distributions={k: distributions[k] for k in params},
                state=TrialState.COMPLETE if state == "complete" else TrialState.PRUNED,
                value=value if state == "complete" else None,
                intermediate_values={1: value or 0.3},
                user_attrs={records.ATTR: {"state": state, "objective": value}},
            )
        )
    return sweep_dir


def new_study(tmp_path, *overrides):
    settings = sweep_settings("hydra.sweeper.n_trials=10", *overrides, sweep_dir=str(tmp_path / "new"))
    opened = open_storage(None, settings.sweep_dir, several_writers=False, heartbeat=settings.heartbeat)
    return settings, studies.open_study(
        settings, opened, optuna.samplers.RandomSampler(seed=0), optuna.pruners.NopPruner()
    )


def queued_params(study):
    waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
    return [t.system_attrs["fixed_params"] for t in waiting]


def test_the_best_configurations_that_fit_go_first_and_the_rest_is_said(tmp_path, caplog):
    source = earlier_sweep(
        tmp_path / "earlier",
        [
            (
                {"model.filters": 8, "model.dropout": 0.1},
                "complete",
                0.95,
            ),  # best, but 8 is not searched here
            ({"model.filters": 64, "model.dropout": 0.2}, "complete", 0.90),
            ({"model.filters": 32, "model.dropout": 0.3}, "complete", 0.85),
            ({"model.filters": 16, "model.dropout": 0.0}, "complete", 0.80),
            ({"model.filters": 128, "model.dropout": 0.0}, "pruned", None),
        ],
    )
    with caplog.at_level("INFO", logger="cnnsweep"):
        _, study = new_study(
            tmp_path, f"hydra.sweeper.warm_start.from={source}", "hydra.sweeper.warm_start.top_k=2"
        )
    assert queued_params(study) == [{"model.filters": 64}, {"model.filters": 32}]
    said = caplog.text
    assert "trial 0 of earlier skipped: model.filters=8 is outside" in said
    assert "2 of its best configurations queued first" in said and "dropped: model.dropout" in said
    first = study.get_trials(deepcopy=False)[0]
    assert first.user_attrs[records.WARM_START_ATTR] == {"study": "earlier", "trial": 1, "value": 0.90}


def test_tell_adds_the_finished_trials_as_past_trials_outside_this_sweeps_records(tmp_path):
    source = earlier_sweep(
        tmp_path / "earlier",
        [
            ({"model.filters": 64}, "complete", 0.90),
            ({"model.filters": 16}, "pruned", None),
            ({"model.filters": 8}, "complete", 0.99),  # outside this space: not told
        ],
    )
    settings, study = new_study(
        tmp_path, f"hydra.sweeper.warm_start.from={source}", "hydra.sweeper.warm_start.tell=true"
    )
    told = [t for t in study.get_trials(deepcopy=False) if records.told(t)]
    assert [(t.params, t.state, t.value) for t in told] == [
        ({"model.filters": 64}, TrialState.COMPLETE, 0.90),
        ({"model.filters": 16}, TrialState.PRUNED, None),
    ]
    assert told[1].intermediate_values == {1: 0.3}  # the pruner learns from them too
    # the sampler sees them; this sweep's budget, rows and best do not
    assert len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))) == 1
    assert studies.budget_of(study).done == 0
    assert records.trial_rows(study, settings.param_keys) == []
    assert records.best_trials(study) == [] and records.state_counts(study) == {}
    assert queued_params(study) == [{"model.filters": 64}]


@pytest.mark.parametrize("case", ["not a sweep", "nothing complete", "missing"])
def test_a_source_that_cannot_warm_start_stops_before_the_study_exists(tmp_path, case):
    source = tmp_path / "earlier"
    if case == "not a sweep":
        source.mkdir()
    elif case == "nothing complete":
        earlier_sweep(source, [({"model.filters": 16}, "pruned", None)])
    with pytest.raises(ConfigError) as error:
        new_study(tmp_path, f"hydra.sweeper.warm_start.from={source}")
    assert error.value.key.startswith("hydra.sweeper.warm_start")
    assert {
        "not a sweep": "is not a sweep dir",
        "nothing complete": "no complete trial",
        "missing": "no such folder",
    }[case] in str(error.value)
    db = tmp_path / "new" / "optuna.db"  # the settings check may stop before the file is made
    assert not db.exists() or optuna.get_all_study_names(f"sqlite:///{db}") == []


def test_a_resumed_study_is_not_warm_started_again(tmp_path, caplog):
    source = earlier_sweep(tmp_path / "earlier", [({"model.filters": 64}, "complete", 0.9)])
    _, study = new_study(tmp_path)
    study.enqueue_trial({"model.filters": 16})
    with caplog.at_level("INFO", logger="cnnsweep"):
        _, study = new_study(tmp_path, f"hydra.sweeper.warm_start.from={source}")
    assert queued_params(study) == [{"model.filters": 16}]
    assert "used by a new study only" in caplog.text


def test_warm_start_settings_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="warm_start.top_k=-1 must be an integer >= 0"):
        sweep_settings("hydra.sweeper.warm_start.from=/tmp", "hydra.sweeper.warm_start.top_k=-1")
    with pytest.raises(ConfigError, match="set one of them"):
        sweep_settings(
            "hydra.sweeper.warm_start.from=/tmp", "hydra.sweeper.warm_start.storage=sqlite:///x.db"
        )
    with pytest.raises(ConfigError, match="patience=0 must be an integer >= 1"):
        sweep_settings("hydra.sweeper.patience=0")
