import pytest
from hydra.errors import ConfigCompositionException

from cnnsweep.errors import ConfigError
from cnnsweep.paths import config_dir
from cnnsweep.preflight import check_group_choices, group_options
from cnnsweep.validation import validate_config
from tests.helpers import compose_config

GROUPS = {
    "dataset": ["cifar10", "digits", "fashion_mnist", "mnist"],
    "model": ["cnn", "seed"],
    "trainer": ["default", "seed"],
}


def test_every_group_has_the_contract_options():
    for group, options in GROUPS.items():
        assert group_options(config_dir(), group) == options


@pytest.mark.parametrize(("group", "option"), [(g, o) for g, options in GROUPS.items() for o in options])
def test_every_option_composes_and_validates(group, option):
    cfg = compose_config(f"{group}={option}")
    if group == "dataset":
        assert cfg["dataset"]["name"] == option
    if group == "model":
        assert cfg["model"]["name"] == option
    plan = validate_config(cfg)
    assert plan.params_count > 0


def test_defaults():
    cfg = compose_config()
    assert cfg["dataset"]["name"] == "mnist"
    assert cfg["model"]["name"] == "cnn"
    assert cfg["trainer"]["early_stopping"]["restore_best_weights"] is True


def test_seed_trainer_is_the_lessons_training():
    trainer = compose_config("trainer=seed")["trainer"]
    assert (trainer["epochs"], trainer["batch_size"], trainer["validation_split"]) == (10, 10, 0.2)


def test_types_are_checked_at_composition():
    with pytest.raises(ConfigCompositionException):
        compose_config("model.filters=abc")
    with pytest.raises(ConfigCompositionException):
        compose_config("model.no_such_key=1")


def test_unknown_group_option_lists_the_valid_ones():
    with pytest.raises(
        ConfigError,
        match="dataset=imagenet is not a known dataset. "
        "Use dataset= one of: cifar10, digits, fashion_mnist, mnist",
    ):
        check_group_choices(["dataset=imagenet"], config_dir())
    with pytest.raises(ConfigError, match="model=resnet is not a known model"):
        check_group_choices(["--multirun", "model=seed,resnet"], config_dir())
    check_group_choices(["dataset=digits", "model.filters=3", "+sweep=seed_cnn"], config_dir())
    with pytest.raises(ConfigError, match=r"\+sweep=x is not a known sweep"):
        check_group_choices(["+sweep=x"], config_dir())


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("trainer.epochs=0", "trainer.epochs=0 must be a positive integer"),
        ("trainer.batch_size=-8", "trainer.batch_size=-8 must be a positive integer"),
        ("trainer.validation_split=0", "trainer.validation_split=0.0 must be between 0 and 1"),
        ("trainer.validation_split=1.0", "trainer.validation_split=1.0 must be between 0 and 1"),
        ("trainer.learning_rate=0", "trainer.learning_rate=0.0 must be positive"),
        ("trainer.early_stopping.monitor=test_acc", "is not a validation metric"),
        ("trainer.early_stopping.patience=-1", "patience=-1"),
        ("dataset.train_limit=0", "dataset.train_limit=0 must be a positive number"),
        ("dataset.path=/no/such/dir", "dataset.path=/no/such/dir does not exist"),
        ("trainer.optimizer=rmsprop", "trainer.optimizer='rmsprop' is not supported"),
        ("trainer.lr_schedule=step", "trainer.lr_schedule='step' is not supported"),
        ("trainer.weight_decay=-1", "trainer.weight_decay=-1 must be >= 0"),
        ("trainer.label_smoothing=1", "trainer.label_smoothing=1 must be in [0, 1)"),
        ("trainer.augment.shift=0.5", "trainer.augment.shift=0.5 must be in [0, 0.5)"),
        ("trainer.augment.cutout=1", "trainer.augment.cutout=1 must be in [0, 1)"),
        ("trainer.warmup_epochs=-1", "trainer.warmup_epochs=-1 must be >= 0"),
        ("trainer.average_epochs=-2", "trainer.average_epochs=-2 must be a whole number of epochs"),
    ],
)
def test_bad_trainer_and_dataset_values(override, fragment):
    with pytest.raises(ConfigError) as err:
        validate_config(compose_config(override))
    assert fragment in str(err.value)
    assert err.value.key == override.split("=")[0]


# ---------------------------------------------------------------- one source for each default
def _schema_leaves(node, prefix=""):
    """Every leaf field of a schema dataclass, dotted, with its default."""
    import dataclasses

    for field in dataclasses.fields(node):
        default = field.default_factory() if callable(field.default_factory) else field.default
        if dataclasses.is_dataclass(default):
            yield from _schema_leaves(default, f"{prefix}{field.name}.")
        else:
            yield prefix + field.name, default


def _dotted(mapping, prefix=""):
    for key, value in mapping.items():
        if isinstance(value, dict):
            yield from _dotted(value, f"{prefix}{key}.")
        else:
            yield prefix + key, value


def test_the_schema_agrees_with_the_yaml_on_every_default():
    """A schema default is MISSING (the YAML is the only source) or the YAML's own value."""
    from omegaconf import MISSING

    from cnnsweep.config import Config

    composed = compose_config()
    for section in ("dataset", "model", "trainer"):
        values = dict(_dotted(composed[section]))
        schema = dict(_schema_leaves(getattr(Config(), section)))
        assert set(schema) == set(values), section  # every schema key is in the YAML, and back
        for key, default in schema.items():
            assert default == MISSING or default == values[key], f"{section}.{key}"


def test_no_core_module_restates_a_config_default():
    """``trainer.get("epochs", 10)`` would be a third source of a default: the core reads
    ``trainer["epochs"]``, and the composed config always has the key."""
    import ast

    from tests.helpers import REPO

    nodes = {
        "cfg",
        "config",
        "trainer",
        "model",
        "dataset",
        "data_cfg",
        "stopping",
        "augment",
        "early_stopping",
        "settings",
    }
    offenders = []
    for path in sorted((REPO / "cnnsweep").rglob("*.py")):
        if "report" in path.parts:  # reads saved files of any version: absent keys are expected
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in nodes
                and len(node.args) == 2
            ):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert offenders == []


def test_the_seed_trainer_is_the_lessons_training_whole():
    """trainer=seed lists only what it changes from trainer/default; whatever default.yaml
    gains later, the lesson's recipe must stay exactly this."""
    trainer = compose_config("trainer=seed")["trainer"]
    assert {
        key: trainer[key]
        for key in (
            "epochs",
            "batch_size",
            "learning_rate",
            "optimizer",
            "weight_decay",
            "lr_schedule",
            "warmup_epochs",
            "label_smoothing",
            "augment",
            "validation_split",
            "subset_epochs",
            "refit_epochs",
            "early_stopping",
        )
    } == {
        "epochs": 10,
        "batch_size": 10,
        "learning_rate": 0.001,
        "optimizer": "adam",
        "weight_decay": 0.0,
        "lr_schedule": "constant",
        "warmup_epochs": 0.0,
        "label_smoothing": 0.0,
        "augment": {"shift": 0.0, "flip": False, "cutout": 0.0},
        "validation_split": 0.2,
        "subset_epochs": [],
        "refit_epochs": None,
        "early_stopping": {
            "monitor": "val_loss",
            "patience": 3,
            "min_delta": 0.0,
            "restore_best_weights": True,
        },
    }
