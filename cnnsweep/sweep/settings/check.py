"""``hydra.sweeper.*`` checked once, into a frozen :class:`SweepSettings`.

Everything a sweep could refuse is refused here, before the study or any trial
is touched: counts and rates, the search space and its keys, objectives and
directions, and every value no trial changes (``trainer.epochs=-1``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from optuna.distributions import BaseDistribution, CategoricalDistribution

from cnnsweep.config import SECTIONS, plain_config
from cnnsweep.errors import ConfigError, Infeasible
from cnnsweep.numbers import is_number, is_whole
from cnnsweep.sweep.settings import nested
from cnnsweep.sweep.settings.frozen import RunFacts, SweepSettings
from cnnsweep.sweep.settings.space import SearchSpace, parse_search_space
from cnnsweep.tracking import tracking_settings
from cnnsweep.validation import objective_direction, validate_config

DIRECTIONS = ("maximize", "minimize")
SLURM_LAUNCHER = "SlurmLauncher"  # hydra-submitit-launcher's submitit_slurm (its _target_'s class)


def check_settings(
    settings: Mapping[str, Any], config: DictConfig, arguments: Sequence[str]
) -> SweepSettings:
    """The sweeper's settings, checked against the composed ``config``.

    Args:
        settings: ``hydra.sweeper.*`` as Hydra hands them to the sweeper.
        config: the composed config of the sweep (``hydra`` node included).
        arguments: the command line's overrides.

    Raises:
        ConfigError: the first setting that breaks a rule, naming the key and the fix.
    """
    n_trials, n_jobs = _count(settings, "n_trials"), _count(settings, "n_jobs")
    timeout = settings["timeout"]
    if timeout is not None and not float(timeout) > 0:
        raise ConfigError(
            f"hydra.sweeper.timeout={timeout} must be a positive number of seconds, or null for none.",
            key="hydra.sweeper.timeout",
        )
    max_failure_rate = float(settings["max_failure_rate"])
    if not 0.0 <= max_failure_rate <= 1.0:
        raise ConfigError(
            f"hydra.sweeper.max_failure_rate={max_failure_rate} must be between 0 and 1.",
            key="hydra.sweeper.max_failure_rate",
        )
    params: Any = settings["params"]
    if isinstance(params, DictConfig):
        params = OmegaConf.to_container(params, resolve=False)
    space = parse_search_space({str(key): value for key, value in dict(params).items()}, arguments)
    if not space.distributions:
        raise ConfigError(
            "the search space is empty: add hydra.sweeper.params (or use "
            "+sweep=NAME), e.g. hydra.sweeper.params.model.filters='choice(16,32)'.",
            key="hydra.sweeper.params",
        )
    _check_keys(space, config)
    _check_fixed_values(space, config)
    monitor = str(config.trainer.early_stopping.monitor)
    objectives, directions = _objectives(settings, monitor)
    study_name = settings["study_name"] or config.hydra.runtime.choices.get("sweep") or "cnnsweep"
    baselines = nested.baselines(settings["baselines"], space)
    return SweepSettings(
        sweep_dir=Path(str(config.hydra.sweep.dir)).absolute(),
        n_trials=n_trials,
        n_jobs=n_jobs,
        timeout=None if timeout is None else float(timeout),
        max_failure_rate=max_failure_rate,
        space=space,
        objectives=tuple(objectives),
        directions=tuple(directions),
        sampler=settings["sampler"],
        pruner=settings["pruner"],
        storage=settings["storage"],
        study_name=str(study_name),
        report=bool(settings["report"]),
        baselines=baselines,
        refit=bool(settings["refit"]),
        refit_share=_refit_share(settings, timeout),
        ensemble=_ensemble(settings["ensemble"], len(directions)),
        confirm=nested.confirm(settings["confirm"]),
        ablation=nested.ablation(settings["ablation"], baselines, space, config),
        heartbeat=nested.heartbeat(settings["heartbeat"]),
        warm_start=nested.warm_start(settings["warm_start"]),
        patience=_patience(settings, len(directions)),
        min_delta=_min_delta(settings["min_delta"]),
        tracking=tracking_settings(
            OmegaConf.to_container(config.tracking, resolve=True)  # type: ignore[arg-type]
            if "tracking" in config
            else None
        ),
        fidelity=_fidelity(settings["fidelity"]),
        command=_command(arguments, config),
        cluster=_cluster(config),
        wait=bool(settings["wait"]),
        run=RunFacts(
            base_seed=int(config.trainer.seed),
            monitor=monitor,
            dataset=str(config.dataset.name),
            data=OmegaConf.to_container(config.dataset, resolve=True),  # type: ignore[arg-type]
            backend=config.trainer.backend,
        ),
    )


def _patience(settings: Mapping[str, Any], n_objectives: int) -> int | None:
    patience = settings["patience"]
    if patience is None:
        return None
    if not is_whole(patience, 1):
        raise ConfigError(
            f"hydra.sweeper.patience={patience!r} must be an integer >= 1 (finished "
            "trials without a better best before the study stops), or null for none.",
            key="hydra.sweeper.patience",
        )
    if n_objectives > 1:
        raise ConfigError(
            "hydra.sweeper.patience needs a single objective: a study of several "
            "objectives has a Pareto front, not one best to improve. Remove "
            "hydra.sweeper.patience.",
            key="hydra.sweeper.patience",
        )
    return patience


def _min_delta(raw: Any) -> float:
    if not (is_number(raw) and raw >= 0):
        raise ConfigError(
            f"hydra.sweeper.min_delta={raw!r} must be a number >= 0: the least "
            "improvement of the best objective that resets hydra.sweeper.patience.",
            key="hydra.sweeper.min_delta",
        )
    return float(raw)


def _ensemble(size: Any, n_objectives: int) -> int:
    key = "hydra.sweeper.ensemble"
    if not is_whole(size, 0) or size == 1:
        raise ConfigError(
            f"{key}={size!r} must be a whole number of at least 2 (the models whose class "
            "probabilities are averaged: the refit and the best complete trials), or 0 for none.",
            key=key,
        )
    if size and n_objectives > 1:
        raise ConfigError(
            f"{key} needs a single objective: a study of several objectives has a Pareto front, "
            f"not one order of best trials. Remove {key}.",
            key=key,
        )
    return int(size)


def _refit_share(settings: Mapping[str, Any], timeout: Any) -> float:
    share = settings["refit_share"]
    key = "hydra.sweeper.refit_share"
    if not (is_number(share) and 0 <= share <= 0.9):
        raise ConfigError(
            f"{key}={share!r} must be a number from 0 to 0.9: the share of hydra.sweeper.timeout "
            "kept for the refit (0: the refit trains the best trial's epoch count).",
            key=key,
        )
    if share and not (settings["refit"] and timeout is not None):
        raise ConfigError(
            f"{key}={share} sizes the refit to a share of the time budget, so it needs both "
            "hydra.sweeper.refit=true and hydra.sweeper.timeout=SECONDS. Add them, or drop "
            f"{key}.",
            key=key,
        )
    return float(share)


def _command(arguments: Sequence[str], config: DictConfig) -> tuple[str, ...]:
    """The sweep's command line after ``python -m cnnsweep``, rebuilt from what Hydra parsed: its
    config dirs and name, the run's overrides (``arguments``) and the ``hydra.*`` ones."""
    hydra = config.hydra
    config_dirs = [
        f"--config-dir={source.path}"
        for source in hydra.runtime.config_sources
        if source.provider == "command-line"
    ]
    name = [] if hydra.job.config_name in (None, "config") else [f"--config-name={hydra.job.config_name}"]
    overrides = [str(o) for o in OmegaConf.to_container(hydra.overrides.hydra, resolve=False)]  # type: ignore[union-attr]
    return ("--multirun", *config_dirs, *name, *map(str, arguments), *overrides)


def _cluster(config: DictConfig) -> Mapping[str, Any] | None:
    """``hydra.launcher`` when it is hydra-submitit-launcher's ``submitit_slurm``, else None."""
    launcher = OmegaConf.select(config, "hydra.launcher")
    if launcher is None:
        return None
    try:
        node = OmegaConf.to_container(launcher, resolve=True)
    except Exception:  # an interpolation only a job can resolve: keep it as written
        node = OmegaConf.to_container(launcher, resolve=False)
    if not isinstance(node, dict):
        return None
    launcher_settings = {str(key): value for key, value in node.items()}
    slurm = str(launcher_settings.get("_target_", "")).endswith(SLURM_LAUNCHER)
    return launcher_settings if slurm else None


def _fidelity(raw: Any) -> tuple[float, ...]:
    """The shares of the training images for the first epochs, each in (0, 1). (A trial's
    last epoch always trains on every image, so a short run uses only the first shares.)"""
    if isinstance(raw, ListConfig):
        raw = OmegaConf.to_container(raw, resolve=True)
    if not raw:
        return ()
    example = "e.g. hydra.sweeper.fidelity=[0.1,0.3] (epoch 1 on 10% of the training images, epoch 2 on 30%)"
    if not isinstance(raw, list) or not all(is_number(share) and 0 < share < 1 for share in raw):
        raise ConfigError(
            f"hydra.sweeper.fidelity={raw!r} must be a list of shares of the training "
            "images, each above 0 and below 1 (the epochs after them train on all), "
            f"{example}.",
            key="hydra.sweeper.fidelity",
        )
    return tuple(float(share) for share in raw)


def _count(settings: Mapping[str, Any], key: str) -> int:
    value = settings[key]
    if not is_whole(value, 1):
        raise ConfigError(
            f"hydra.sweeper.{key}={value!r} must be an integer >= 1.", key=f"hydra.sweeper.{key}"
        )
    return value


def _check_keys(space: SearchSpace, config: DictConfig) -> None:
    """Every searched key exists in the config (or is a config group)."""
    groups = set(config.hydra.runtime.choices.keys())
    missing = object()
    for key in space.distributions:
        if key in groups or OmegaConf.select(config, key, default=missing) is not missing:
            continue
        known = [f"{section}.{name}" for section in SECTIONS for name in config[section]]
        close = difflib.get_close_matches(key, known, n=1)
        hint = f" Did you mean {close[0]}?" if close else ""
        raise ConfigError(
            f"hydra.sweeper.params.{key}: no such key in the config.{hint}", key=f"hydra.sweeper.params.{key}"
        )


def _check_fixed_values(space: SearchSpace, config: DictConfig) -> None:
    """Stop now if a value no trial changes breaks a rule (trainer.epochs=-1).

    The config is checked with each searched key at a value of its range; an
    error naming a searched key, or an architecture that does not fit, is left
    to the trials (recorded as infeasible there).
    """
    plain = plain_config(config)
    for key, distribution in space.distributions.items():
        *parents, name = key.split(".")
        node: Any = plain
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and name in node:
            node[name] = _a_value_of(distribution)
    try:
        validate_config(plain)
    except Infeasible:
        return
    except ConfigError as exc:
        if exc.key not in space.distributions:
            raise


def _a_value_of(distribution: BaseDistribution) -> Any:
    if isinstance(distribution, CategoricalDistribution):
        return distribution.choices[0]
    return distribution.low  # type: ignore[attr-defined]


def _objectives(settings: Mapping[str, Any], monitor: str) -> tuple[list[str], list[str]]:
    objectives = settings["objectives"]
    objectives = (
        ["objective"]
        if objectives is None
        else ([objectives] if isinstance(objectives, str) else list(objectives))
    )
    direction = settings["direction"]
    if direction is None:
        directions = [objective_direction(monitor if o == "objective" else o) for o in objectives]
    else:
        directions = [direction] if isinstance(direction, str) else list(direction)
    for value in directions:
        if value not in DIRECTIONS:
            raise ConfigError(
                f"hydra.sweeper.direction={value!r} must be maximize or minimize "
                "(or a list of them, one per objective).",
                key="hydra.sweeper.direction",
            )
    if len(directions) != len(objectives):
        if objectives == ["objective"] and len(directions) == 2:
            objectives = ["objective", "params_count"]
        else:
            raise ConfigError(
                f"hydra.sweeper.direction has {len(directions)} entries but there are "
                f"{len(objectives)} objectives ({', '.join(objectives)}). Set "
                "hydra.sweeper.objectives to one metrics.json key per direction.",
                key="hydra.sweeper.objectives",
            )
    if objectives[0] == "objective" and directions[0] != objective_direction(monitor):
        raise ConfigError(
            f"hydra.sweeper.direction={directions[0]} contradicts trainer.early_stopping."
            f"monitor={monitor}, which is {objective_direction(monitor)}d. Set "
            f"hydra.sweeper.direction={objective_direction(monitor)} (or leave it null).",
            key="hydra.sweeper.direction",
        )
    return objectives, directions
