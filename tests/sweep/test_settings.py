"""hydra.sweeper.* checked once, before the study or any trial is touched."""

from __future__ import annotations

import dataclasses

import pytest

from cnnsweep.errors import ConfigError
from tests.sweep.composed import sweep_settings


def _check(*overrides: str, arguments=()):
    return sweep_settings(*overrides, arguments=arguments)


def test_seed_cnn_searches_the_lessons_five_and_is_frozen():
    settings = _check()
    assert settings.param_keys == [
        "model.filters",
        "model.kernel_size",
        "model.strides",
        "model.padding",
        "trainer.batch_size",
    ]
    assert settings.directions == ("maximize",) and settings.study_name == "seed_cnn"
    assert not settings.shared_storage
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.n_trials = 5  # type: ignore[misc]


def test_a_plain_override_pins_a_searched_key():
    settings = _check(arguments=["model.padding=valid"])
    assert "model.padding" not in settings.param_keys and "model.padding=valid" in settings.space.fixed


@pytest.mark.parametrize(
    ("overrides", "arguments", "key"),
    [
        (["hydra.sweeper.n_trials=0"], [], "hydra.sweeper.n_trials"),
        (["hydra.sweeper.max_failure_rate=2"], [], "hydra.sweeper.max_failure_rate"),
        (["hydra.sweeper.direction=minimize"], [], "hydra.sweeper.direction"),
        (["trainer.epochs=-1"], [], "trainer.epochs"),
        (["hydra.sweeper.confirm.top_k=-1"], [], "hydra.sweeper.confirm.top_k"),
        (
            ["hydra.sweeper.confirm.top_k=3", "hydra.sweeper.confirm.seeds=0"],
            [],
            "hydra.sweeper.confirm.seeds",
        ),
        (["hydra.sweeper.ablation.seeds=-2"], [], "hydra.sweeper.ablation.seeds"),
        ([], ["model.filtres=choice(1,2)"], "hydra.sweeper.params.model.filtres"),
    ],
)
def test_each_bad_setting_names_its_key(overrides, arguments, key):
    with pytest.raises(ConfigError) as err:
        _check(*overrides, arguments=arguments)
    assert err.value.key == key


def test_a_searched_value_out_of_range_is_left_to_its_trials():
    settings = _check(arguments=["trainer.batch_size=choice(0,32)"])
    assert "trainer.batch_size" in settings.param_keys


def test_baselines_must_be_searched_values_in_range():
    settings = _check("hydra.sweeper.baselines=[{model:{filters:32}},{model.kernel_size:5}]")
    assert settings.baselines == ({"model.filters": 32}, {"model.kernel_size": 5})
    with pytest.raises(ConfigError, match=r"baselines\[0\].model.filters=12 is outside"):
        _check("hydra.sweeper.baselines=[{model.filters:12}]")
    with pytest.raises(ConfigError, match="model.dropout is not searched"):
        _check("hydra.sweeper.baselines=[{model.dropout:0.1}]")


def test_fidelity_shares_are_checked():
    assert _check("hydra.sweeper.fidelity=[0.1,0.3]").fidelity == (0.1, 0.3)
    assert _check().fidelity == ()
    with pytest.raises(ConfigError, match=r"each above 0 and below 1") as raised:
        _check("hydra.sweeper.fidelity=[0.1,1.0]")
    assert raised.value.key == "hydra.sweeper.fidelity"
    with pytest.raises(ConfigError, match=r"hydra.sweeper.fidelity=\[0.0\] must be a list of shares"):
        _check("hydra.sweeper.fidelity=[0]")


def test_the_pruner_step_counts_images_in_hundredths_of_an_epoch():
    from cnnsweep.sweep.launch import pruner_step

    assert [pruner_step(epoch, float(epoch), by_images=False) for epoch in (1, 2, 3)] == [1, 2, 3]
    assert [pruner_step(epoch, seen, by_images=True) for epoch, seen in ((1, 0.1), (2, 0.4), (3, 1.4))] == [
        10,
        40,
        140,
    ]


def test_the_confirmation_is_off_by_default_and_checked_when_on():
    assert _check().confirm.top_k == 0 and _check().confirm.runs == 0
    on = _check("hydra.sweeper.confirm.top_k=3", "hydra.sweeper.confirm.seeds=2").confirm
    assert (on.top_k, on.seeds, on.runs) == (3, 2, 6)
    assert _check("hydra.sweeper.confirm.seeds=0").confirm.top_k == 0  # seeds do not matter when off


def test_heartbeats_default_to_10_s_with_40_s_of_grace_and_a_live_machine_is_never_too_close():
    assert (_check().heartbeat.interval, _check().heartbeat.grace_period) == (10, 40)
    fast = _check("hydra.sweeper.heartbeat.interval=1", "hydra.sweeper.heartbeat.grace_period=4").heartbeat
    assert (fast.interval, fast.grace_period) == (1, 4)
    with pytest.raises(ConfigError, match=r"grace_period=15 must be at least twice .*interval=10") as raised:
        _check("hydra.sweeper.heartbeat.grace_period=15")
    assert raised.value.key == "hydra.sweeper.heartbeat.grace_period"
    with pytest.raises(ConfigError, match=r"heartbeat.interval=0 must be a whole number of seconds >= 1"):
        _check("hydra.sweeper.heartbeat.interval=0")
