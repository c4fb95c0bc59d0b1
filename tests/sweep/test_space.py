import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from cnnsweep.errors import ConfigError
from cnnsweep.sweep.settings.space import override_for, parse_search_space


def test_sweep_syntax_becomes_optuna_distributions():
    space = parse_search_space(
        {
            "model.filters": "choice(16, 32, 64)",
            "model.conv_blocks": "range(1, 4)",
            "model.dropout": "interval(0.0, 0.5)",
            "trainer.learning_rate": "tag(log, interval(1e-4, 1e-2))",
            "model.padding": "valid",
        },
        [],
    )
    d = space.distributions
    assert d["model.filters"] == CategoricalDistribution([16, 32, 64])
    assert d["model.conv_blocks"] == IntDistribution(1, 3)
    assert d["model.dropout"] == FloatDistribution(0.0, 0.5)
    assert d["trainer.learning_rate"] == FloatDistribution(1e-4, 1e-2, log=True)
    assert space.fixed == ["model.padding=valid"]


def test_range_with_step_keeps_the_step_and_excludes_stop():
    space = parse_search_space({"trainer.batch_size": "range(16, 129, 16)"}, [])
    assert space.distributions["trainer.batch_size"] == IntDistribution(16, 128, step=16)
    assert space.grid()["trainer.batch_size"] == [16, 32, 48, 64, 80, 96, 112, 128]


def test_command_line_pins_and_adds():
    space = parse_search_space(
        {"model.padding": "choice(valid, same)", "model.filters": "choice(8, 16)"},
        ["model.padding=valid", "dataset=digits", "model.kernel_size=choice(2,3)"],
    )
    assert "model.padding" not in space.distributions
    assert space.pinned == ["model.padding"]
    assert "model.padding=valid" in space.fixed and "dataset=digits" in space.fixed
    assert set(space.distributions) == {"model.filters", "model.kernel_size"}


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"model.filters": "range(8, 2)"}, "is empty or reversed"),
        ({"model.filters": "range(2, 2)"}, "is empty or reversed"),
        ({"trainer.learning_rate": "interval(0.1, 0.01)"}, "is empty or reversed"),
        ({"trainer.learning_rate": "tag(log, interval(0, 0.1))"}, "a log interval needs low > 0"),
        ({"model.filters": "choice(8, 16"}, "hydra.sweeper.params"),
    ],
)
def test_bad_spaces(params, fragment):
    with pytest.raises(ConfigError, match=fragment):
        parse_search_space(params, [])


def test_grid_refuses_continuous_ranges():
    space = parse_search_space({"model.dropout": "interval(0.0, 0.5)"}, [])
    with pytest.raises(ConfigError, match="continuous range, which a grid sampler cannot enumerate"):
        space.grid()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "k=true"),
        (None, "k=null"),
        (0.001, "k=0.001"),
        (32, "k=32"),
        ("same", "k=same"),
        ("a b", "k='a b'"),
        ("it's", "k='it\\'s'"),
    ],
)
def test_override_quoting(value, text):
    assert override_for("k", value) == text
