"""Typed configuration: the schema behind ``conf/``.

The dataclasses give the types, the YAML files under ``conf/`` give the values (the
only place a default is written); Hydra checks the types when it composes them
(``model.filters=abc`` fails before anything runs). Rules that
types cannot express (positive sizes, a kernel that fits the feature map) live in
:mod:`cnnsweep.validation`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

SECTIONS = ("dataset", "model", "trainer")  # the run config's groups, in this order
PADDINGS = ("valid", "same")
ACTIVATIONS = ("relu", "elu", "gelu", "selu", "swish", "silu", "tanh", "sigmoid", "leaky_relu")


# Every field is MISSING: the YAML files of conf/ give every value, once (each key's
# meaning and unit is commented there). A key that a YAML file forgets stops the
# composition with Hydra's "Missing mandatory value", instead of a second default
# silently disagreeing with the first.
@dataclass
class DatasetConfig:
    name: str = MISSING
    path: str | None = MISSING
    train_limit: int | None = MISSING
    test_limit: int | None = MISSING


@dataclass
class ModelConfig:
    name: str = MISSING
    conv_blocks: int = MISSING
    convs_per_block: int = MISSING
    filters: int = MISSING
    filter_growth: float = MISSING
    kernel_size: int = MISSING
    strides: int = MISSING
    padding: str = MISSING
    activation: str = MISSING
    batch_norm: bool = MISSING
    pool_size: int = MISSING
    dense_units: int = MISSING
    dropout: float = MISSING
    global_pool: bool = MISSING
    residual: bool = MISSING


@dataclass
class EarlyStoppingConfig:
    monitor: str = MISSING
    patience: int = MISSING
    min_delta: float = MISSING
    restore_best_weights: bool = MISSING


@dataclass
class AugmentConfig:
    shift: float = MISSING
    flip: bool = MISSING
    cutout: float = MISSING


@dataclass
class TrainerConfig:
    epochs: int = MISSING
    batch_size: int = MISSING
    learning_rate: float = MISSING
    optimizer: str = MISSING
    weight_decay: float = MISSING
    momentum: float = MISSING
    lr_schedule: str = MISSING
    warmup_epochs: float = MISSING
    label_smoothing: float = MISSING
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    flip_test: bool = MISSING
    average_epochs: int = MISSING
    validation_split: float = MISSING
    seed: int = MISSING
    quiet: bool = MISSING
    save_model: bool = MISSING
    memory_limit_mb: int | None = MISSING
    backend: str | None = MISSING
    precision: str = MISSING
    steps_per_execution: int = MISSING
    subset_epochs: list[float] = MISSING
    tensorboard: bool = MISSING
    refit_epochs: int | None = MISSING
    refit_seconds: float | None = MISSING
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)


@dataclass
class TrackingConfig:
    name: str = MISSING
    uri: str | None = MISSING
    experiment: str | None = MISSING


@dataclass
class Config:
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)


def dotted_keys(node: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"model": {"filters": 32}}`` -> ``{"model.filters": 32}``: each value under the key a
    command line would override it with (``{"model.filters": 32}`` stays as it is)."""
    flat: dict[str, Any] = {}
    for key, value in node.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(dotted_keys(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def register_configs() -> None:
    """Register the schema that ``conf/config.yaml`` lists first (idempotent).

    The entry point calls this before Hydra composes; the sweeper's own groups
    and the sweep files are registered by the sweep package.
    """
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="cnnsweep_schema", node=Config)


def compose(*overrides: str) -> dict:
    """The run config from ``conf/`` as the command line composes it, as plain dicts.

    For notebooks, tests and benchmarks: ``train(compose("dataset=digits"), run_dir)``.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from cnnsweep.paths import config_dir

    register_configs()

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = hydra_compose(config_name="config", overrides=list(overrides))
    return plain_config(cfg)


def plain_config(config: Any) -> dict[str, Any]:
    """The run's own sections of a composed config as plain containers (no ``hydra`` node)."""
    from omegaconf import OmegaConf

    return {key: OmegaConf.to_container(config[key], resolve=True) for key in SECTIONS}
