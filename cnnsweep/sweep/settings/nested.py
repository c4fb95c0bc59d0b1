"""The nested ``hydra.sweeper`` nodes, each checked into its frozen object: the baselines,
the confirmation, the ablation path, the heartbeat and the warm start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from cnnsweep.config import dotted_keys
from cnnsweep.errors import ConfigError
from cnnsweep.numbers import is_whole
from cnnsweep.sweep.settings.frozen import (
    MAX_CONFIRM_SEEDS,
    AblationSettings,
    ConfirmSettings,
    Heartbeat,
    WarmStart,
)
from cnnsweep.sweep.settings.schema import WARM_START_DEFAULTS
from cnnsweep.sweep.settings.space import SearchSpace, in_range


def baselines(raw: Any, space: SearchSpace) -> tuple[dict[str, Any], ...]:
    """Each baseline's values, every one a searched key at a value of its range."""
    if isinstance(raw, DictConfig | ListConfig):
        raw = OmegaConf.to_container(raw, resolve=True)
    if not raw:
        return ()
    if not isinstance(raw, list) or not all(isinstance(b, dict) for b in raw):
        raise ConfigError(
            "hydra.sweeper.baselines must be a list of {key: value} mappings of searched "
            "keys, e.g. [{model.filters: 32}].",
            key="hydra.sweeper.baselines",
        )
    checked = []
    for index, baseline in enumerate(raw):
        values = dotted_keys(baseline)
        for key, value in values.items():
            where = f"hydra.sweeper.baselines[{index}].{key}"
            distribution = space.distributions.get(key)
            if distribution is None:
                raise ConfigError(
                    f"{where}: {key} is not searched, so a baseline cannot set it. Set "
                    "it with a plain override instead.",
                    key="hydra.sweeper.baselines",
                )
            if not in_range(distribution, value):
                raise ConfigError(
                    f"{where}={value!r} is outside the searched range of {key}. Use a "
                    "value the search could pick.",
                    key="hydra.sweeper.baselines",
                )
        checked.append(values)
    return tuple(checked)


def ablation(
    raw: Any, baselines: tuple[dict[str, Any], ...], space: SearchSpace, config: DictConfig
) -> AblationSettings:
    """The ablation's seeds, and where its path starts: the first baseline, else the value each
    searched key has in the composed config (the defaults the sweep searches around)."""
    seeds = raw["seeds"]
    if not is_whole(seeds, 0, MAX_CONFIRM_SEEDS):
        raise ConfigError(
            f"hydra.sweeper.ablation.seeds={seeds!r} must be an integer from 0 to "
            f"{MAX_CONFIRM_SEEDS}: the new seeds each step of the path from the baseline to "
            "the best trains with (0: no ablation), e.g. hydra.sweeper.ablation.seeds=2.",
            key="hydra.sweeper.ablation.seeds",
        )
    if not seeds:
        return AblationSettings(seeds=0)
    if baselines:
        return AblationSettings(seeds=seeds, baseline=dict(baselines[0]))
    defaults = {}
    for key in space.distributions:
        value = OmegaConf.select(config, key, default=None)
        if value is not None and not isinstance(value, DictConfig | ListConfig):
            defaults[key] = value
    return AblationSettings(seeds=seeds, baseline=defaults)


def confirm(raw: Any) -> ConfirmSettings:
    top_k, seeds = raw["top_k"], raw["seeds"]
    if not is_whole(top_k, 0):
        raise ConfigError(
            f"hydra.sweeper.confirm.top_k={top_k!r} must be an integer >= 0: how many of "
            "the best configurations to train again with new seeds (0: none).",
            key="hydra.sweeper.confirm.top_k",
        )
    if top_k > 0 and not is_whole(seeds, 1, MAX_CONFIRM_SEEDS):
        raise ConfigError(
            f"hydra.sweeper.confirm.seeds={seeds!r} must be an integer from 1 to "
            f"{MAX_CONFIRM_SEEDS} with confirm.top_k={top_k}: the new seeds each "
            "configuration trains with, e.g. hydra.sweeper.confirm.seeds=3.",
            key="hydra.sweeper.confirm.seeds",
        )
    return ConfirmSettings(top_k=top_k, seeds=seeds if top_k else 0)


def heartbeat(raw: Any) -> Heartbeat:
    interval, grace = raw["interval"], raw["grace_period"]
    for key, value in (("interval", interval), ("grace_period", grace)):
        if not is_whole(value, 1):
            raise ConfigError(
                f"hydra.sweeper.heartbeat.{key}={value!r} must be a whole number of seconds >= 1.",
                key=f"hydra.sweeper.heartbeat.{key}",
            )
    if grace < 2 * interval:
        raise ConfigError(
            f"hydra.sweeper.heartbeat.grace_period={grace} must be at least twice "
            f"hydra.sweeper.heartbeat.interval={interval}: with less, one late heartbeat "
            "of a live machine gets its trial failed. E.g. grace_period="
            f"{4 * interval}.",
            key="hydra.sweeper.heartbeat.grace_period",
        )
    return Heartbeat(interval=interval, grace_period=grace)


def warm_start(raw: Any) -> WarmStart | None:
    if isinstance(raw, DictConfig):
        raw = OmegaConf.to_container(raw, resolve=True)
    raw = {**WARM_START_DEFAULTS, **dict(raw or {})}  # the schema's defaults, written once
    source, storage, study_name = raw.get("from"), raw.get("storage"), raw.get("study_name")
    if source is None and storage is None:
        if study_name is not None:
            raise ConfigError(
                "hydra.sweeper.warm_start.study_name needs the storage it is in: set "
                "hydra.sweeper.warm_start.storage=URL (or warm_start.from=SWEEP_DIR).",
                key="hydra.sweeper.warm_start.storage",
            )
        return None
    if source is not None and storage is not None:
        raise ConfigError(
            "hydra.sweeper.warm_start.from and warm_start.storage both name the earlier "
            "study: set one of them.",
            key="hydra.sweeper.warm_start.from",
        )
    top_k, tell = raw["top_k"], raw["tell"]
    if not is_whole(top_k, 0):
        raise ConfigError(
            f"hydra.sweeper.warm_start.top_k={top_k!r} must be an integer >= 0: how many "
            "of the earlier study's best configurations to try first.",
            key="hydra.sweeper.warm_start.top_k",
        )
    if not isinstance(tell, bool):
        raise ConfigError(
            f"hydra.sweeper.warm_start.tell={tell!r} must be true or false.",
            key="hydra.sweeper.warm_start.tell",
        )
    sweep_dir = None
    if source is not None:
        sweep_dir = Path(str(source)).expanduser().absolute()
        if not sweep_dir.is_dir():
            raise ConfigError(
                f"hydra.sweeper.warm_start.from={source}: no such folder. Give the "
                "sweep dir of an earlier sweep (the folder with its trials.csv).",
                key="hydra.sweeper.warm_start.from",
            )
    return WarmStart(
        sweep_dir=sweep_dir,
        storage=None if storage is None else str(storage),
        study_name=None if study_name is None else str(study_name),
        top_k=top_k,
        tell=tell,
    )
