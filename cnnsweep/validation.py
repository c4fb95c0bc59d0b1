"""Check a whole run config before anything is loaded or trained.

Type errors are caught by Hydra against :mod:`cnnsweep.config`; this module
checks the rules types cannot express and returns the architecture plan.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cnnsweep.architecture import plan_architecture
from cnnsweep.data.catalog import get_spec
from cnnsweep.errors import ConfigError, Infeasible
from cnnsweep.numbers import is_number, is_whole
from cnnsweep.plan import ArchitecturePlan

MONITORS = ("val_acc", "val_loss")
OPTIMIZERS = ("adam", "adamw", "sgd")
LR_SCHEDULES = ("constant", "cosine", "one_cycle")
BACKENDS = ("tensorflow", "jax", "torch")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def _positive_int(section: str, node: Mapping[str, Any], key: str, hint: str) -> None:
    value = node[key]
    if not is_whole(value, 1):
        raise ConfigError(
            f"{section}.{key}={value!r} must be a positive integer. {hint}", key=f"{section}.{key}"
        )


def check_trainer(trainer: Mapping[str, Any]) -> None:
    _positive_int("trainer", trainer, "epochs", "Use e.g. trainer.epochs=10.")
    _positive_int("trainer", trainer, "batch_size", "Use e.g. trainer.batch_size=64.")
    if not float(trainer["learning_rate"]) > 0:
        raise ConfigError(
            f"trainer.learning_rate={trainer['learning_rate']!r} must be "
            "positive. Use e.g. trainer.learning_rate=0.001.",
            key="trainer.learning_rate",
        )
    split = float(trainer["validation_split"])
    if not 0.0 < split < 1.0:
        raise ConfigError(
            f"trainer.validation_split={trainer['validation_split']!r} must be "
            "between 0 and 1 (exclusive). Use e.g. trainer.validation_split=0.2.",
            key="trainer.validation_split",
        )
    if not is_whole(trainer["average_epochs"], 0):
        raise ConfigError(
            f"trainer.average_epochs={trainer['average_epochs']!r} must be a whole number of epochs: "
            "0 keeps the best epoch's weights, e.g. 5 tries the mean of the last 5 epochs' weights.",
            key="trainer.average_epochs",
        )
    if trainer["refit_epochs"] is not None:
        _positive_int("trainer", trainer, "refit_epochs", "Use the best trial's best_epoch, or null.")
    _refit_seconds(trainer)
    _positive_int("trainer", trainer, "steps_per_execution", "Use 1 on a CPU, 16-32 on a GPU.")
    shares = list(trainer["subset_epochs"])
    if not all(0.0 < float(share) < 1.0 for share in shares):
        raise ConfigError(
            f"trainer.subset_epochs={shares} must hold shares of the training images, "
            "each above 0 and below 1, e.g. trainer.subset_epochs=[0.1,0.3].",
            key="trainer.subset_epochs",
        )
    if trainer["backend"] not in (None, *BACKENDS):
        raise ConfigError(
            f"trainer.backend={trainer['backend']!r} is not a Keras backend. Use one "
            f"of: {', '.join(BACKENDS)} (or null for $KERAS_BACKEND).",
            key="trainer.backend",
        )
    if trainer["precision"] not in PRECISIONS:
        raise ConfigError(
            f"trainer.precision={trainer['precision']!r} is not a dtype policy. Use "
            f"one of: {', '.join(PRECISIONS)}.",
            key="trainer.precision",
        )
    check_recipe(trainer)
    stopping = trainer["early_stopping"]
    if stopping["monitor"] not in MONITORS:
        raise ConfigError(
            f"trainer.early_stopping.monitor={stopping['monitor']!r} is not a "
            f"validation metric. Use one of: {', '.join(MONITORS)}.",
            key="trainer.early_stopping.monitor",
        )
    if isinstance(stopping["patience"], bool) or stopping["patience"] < 0:
        raise ConfigError(
            f"trainer.early_stopping.patience={stopping['patience']!r} must be "
            "an integer >= 0 (epochs without improvement before stopping).",
            key="trainer.early_stopping.patience",
        )
    if float(stopping["min_delta"]) < 0:
        raise ConfigError(
            f"trainer.early_stopping.min_delta={stopping['min_delta']!r} must be >= 0.",
            key="trainer.early_stopping.min_delta",
        )


def check_recipe(trainer: Mapping[str, Any]) -> None:
    """The optimizer, its schedule, label smoothing and augmentation."""
    optimizer = trainer["optimizer"]
    if optimizer not in OPTIMIZERS:
        raise ConfigError(
            f"trainer.optimizer={optimizer!r} is not supported. Use one of: {', '.join(OPTIMIZERS)}.",
            key="trainer.optimizer",
        )
    schedule = trainer["lr_schedule"]
    if schedule not in LR_SCHEDULES:
        raise ConfigError(
            f"trainer.lr_schedule={schedule!r} is not supported. Use one of: {', '.join(LR_SCHEDULES)}.",
            key="trainer.lr_schedule",
        )
    for key, low, high, hint in (
        ("weight_decay", 0.0, None, "Use e.g. trainer.weight_decay=0.0001, or 0 for none."),
        ("momentum", 0.0, 1.0, "Use e.g. trainer.momentum=0.9."),
        ("label_smoothing", 0.0, 1.0, "Use e.g. trainer.label_smoothing=0.1, or 0 for none."),
        ("warmup_epochs", 0.0, None, "Use e.g. trainer.warmup_epochs=1, or 0 for none."),
    ):
        value = float(trainer[key])
        if value < low or (high is not None and value >= high):
            rule = f"in [{low:g}, {high:g})" if high is not None else f">= {low:g}"
            raise ConfigError(f"trainer.{key}={value:g} must be {rule}. {hint}", key=f"trainer.{key}")
    shift = float(trainer["augment"]["shift"])
    if not 0.0 <= shift < 0.5:
        raise ConfigError(
            f"trainer.augment.shift={shift:g} must be in [0, 0.5): the largest shift, "
            "as a fraction of the image side. Use e.g. 0.1, or 0 for none.",
            key="trainer.augment.shift",
        )
    cutout = float(trainer["augment"]["cutout"])
    if not 0.0 <= cutout < 1.0:
        raise ConfigError(
            f"trainer.augment.cutout={cutout:g} must be in [0, 1): the side of the square "
            "zeroed in each training image, as a fraction of the image side. Use e.g. 0.25, "
            "or 0 for none.",
            key="trainer.augment.cutout",
        )


def check_dataset(dataset: Mapping[str, Any]) -> None:
    get_spec(dataset["name"])
    for key in ("train_limit", "test_limit"):
        limit = dataset[key]
        if limit is not None and (isinstance(limit, bool) or limit < 1):
            raise ConfigError(
                f"dataset.{key}={limit!r} must be a positive number of images, or null for all of them.",
                key=f"dataset.{key}",
            )
    path = dataset["path"]
    if path and not Path(path).expanduser().exists():
        raise ConfigError(
            f"dataset.path={path} does not exist. Point it at the "
            f"{dataset['name']} files, or drop it to search the usual places.",
            key="dataset.path",
        )


def validate_config(cfg: Mapping[str, Any], memory_share: int = 1) -> ArchitecturePlan:
    """Check ``cfg`` (dataset, model, trainer) and return the model's plan.

    ``memory_share`` is how many processes share this machine's memory (a sweep's
    worker processes): a null ``trainer.memory_limit_mb`` is divided among them.

    Raises:
        ConfigError: the first rule broken, naming the key, value and fix.
        Infeasible: the model does not fit the dataset's images.
    """
    check_dataset(cfg["dataset"])
    check_trainer(cfg["trainer"])
    spec = get_spec(cfg["dataset"]["name"])
    plan = plan_architecture(cfg["model"], spec.input_shape, spec.num_classes)
    check_memory(plan, cfg["trainer"], memory_share)
    return plan


def machine_memory_mb() -> int:
    """This machine's RAM in MB (8 GB when the system cannot say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20
    except (ValueError, OSError):
        return 16384


def memory_limit_mb(trainer: Mapping[str, Any], memory_share: int = 1) -> int:
    """``trainer.memory_limit_mb``, or half of this machine's RAM when it is null, shared
    among the ``memory_share`` worker processes of a sweep on this machine."""
    limit = trainer["memory_limit_mb"]
    if limit is None:
        return machine_memory_mb() // 2 // max(1, memory_share)
    if not is_whole(limit, 1):
        raise ConfigError(
            f"trainer.memory_limit_mb={limit!r} must be a positive number of MB, "
            "or null for half of this machine's RAM.",
            key="trainer.memory_limit_mb",
        )
    return limit


def check_memory(plan: ArchitecturePlan, trainer: Mapping[str, Any], memory_share: int = 1) -> None:
    """Refuse a model whose training step cannot fit the memory limit, before it runs."""
    limit = memory_limit_mb(trainer, memory_share)
    batch_size = int(trainer["batch_size"])
    needed = plan.training_memory_bytes(batch_size) / 2**20
    if needed > limit:
        raise Infeasible(
            f"training this model needs at least {needed:,.0f} MB (activations of a batch of "
            f"{batch_size} plus weights and optimizer state), over trainer.memory_limit_mb={limit}. "
            "Lower trainer.batch_size, model.filters or model.dense_units, or raise "
            "trainer.memory_limit_mb.",
            key="trainer.memory_limit_mb",
        )


def objective_direction(monitor: str) -> str:
    """``minimize`` for losses, ``maximize`` for accuracies (as Keras's mode='auto')."""
    return "minimize" if "loss" in monitor else "maximize"


def _refit_seconds(trainer: Mapping[str, Any]) -> None:
    seconds = trainer["refit_seconds"]
    if seconds is None:
        return
    if not (is_number(seconds) and seconds > 0):
        raise ConfigError(
            f"trainer.refit_seconds={seconds!r} must be a positive number of seconds of training, or null.",
            key="trainer.refit_seconds",
        )
    if trainer["lr_schedule"] == "one_cycle":
        raise ConfigError(
            "trainer.refit_seconds sizes a cosine or constant learning-rate schedule to the time, "
            "not one_cycle. Use trainer.lr_schedule=cosine, or trainer.refit_epochs=N.",
            key="trainer.refit_seconds",
        )
