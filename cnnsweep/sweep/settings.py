"""``hydra.sweeper.*`` checked once, into a frozen :class:`SweepSettings`.

Everything a sweep could refuse is refused here, before the study or any trial
is touched: counts and rates, the search space and its keys, objectives and
directions, and every value no trial changes (``trainer.epochs=-1``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from optuna.distributions import BaseDistribution, CategoricalDistribution

from cnnsweep.config import dotted_keys
from cnnsweep.errors import ConfigError, Infeasible
from cnnsweep.sweep.space import SearchSpace, parse_search_space
from cnnsweep.sweep.storage import Heartbeat
from cnnsweep.tracking import TrackingSettings, tracking_settings
from cnnsweep.validation import objective_direction, validate_config

DIRECTIONS = ("maximize", "minimize")
SECTIONS = ("dataset", "model", "trainer")


@dataclass(frozen=True)
class ConfirmSettings:
    """``hydra.sweeper.confirm``: retrain the ``top_k`` best configurations ``seeds`` times."""

    top_k: int = 0  # 0: no confirmation
    seeds: int = 3

    @property
    def runs(self) -> int:
        return self.top_k * self.seeds


@dataclass(frozen=True)
class AblationSettings:
    """``hydra.sweeper.ablation``: the path from ``baseline`` to the best, ``seeds`` runs a step."""

    seeds: int = 0  # 0: no ablation
    baseline: Mapping[str, Any] = field(default_factory=dict)  # searched key -> its value at the start


@dataclass(frozen=True)
class WarmStart:
    """``hydra.sweeper.warm_start``: an earlier study this (new) study starts from."""

    sweep_dir: Path | None  # the earlier sweep dir (its own storage file) ...
    storage: str | None  # ... or a storage URL with the study's name
    study_name: str | None  # None: the only study in that storage
    top_k: int  # its best configurations that fit this space, tried first
    tell: bool  # its finished trials are added as past trials, to inform the sampler

    @property
    def source(self) -> str:
        """How lines name it: the sweep dir, or the study in its (masked) storage."""
        from cnnsweep.masking import mask_password

        if self.sweep_dir is not None:
            return str(self.sweep_dir)
        return f"study {self.study_name or '(its only one)'} in {mask_password(str(self.storage))}"


MAX_CONFIRM_SEEDS = 1000  # each configuration's new seeds are drawn from a block of this size


@dataclass(frozen=True)
class SweepSettings:
    """One sweep's checked settings, and the few config values the sweeper itself needs."""

    sweep_dir: Path
    n_trials: int  # the study's total, across resumes and machines
    n_jobs: int  # worker loops at once on this machine
    timeout: float | None  # seconds for the whole sweep, report included
    max_failure_rate: float
    space: SearchSpace
    objectives: tuple[str, ...]  # metrics.json keys, one per direction
    directions: tuple[str, ...]
    sampler: Mapping[str, Any]  # the sampler's config node (``_target_`` and options)
    pruner: Mapping[str, Any]
    storage: str | None  # the URL as given; None: a file in the sweep dir
    study_name: str
    report: bool
    baselines: tuple[dict[str, Any], ...]  # searched values tried first
    refit: bool  # retrain the best configuration on all training images at the end
    confirm: ConfirmSettings  # retrain the best configurations with new seeds after the search
    ablation: AblationSettings  # the measured path from the baseline to the best
    heartbeat: Heartbeat  # with a database server: when a silent machine's trial is run again
    warm_start: WarmStart | None  # an earlier study whose best configurations go first
    patience: int | None  # stop after this many finished trials without a better best
    tracking: TrackingSettings | None  # tracking=mlflow: where the sweep's runs also go
    min_delta: float  # what counts as better for patience
    fidelity: tuple[float, ...]  # shares of the training images of every trial's first epochs
    is_worker: bool  # a worker process started by a coordinator (here, or as a SLURM job)
    cluster: Mapping[str, Any] | None  # hydra.launcher's settings when it is submitit_slurm
    wait: bool  # with a cluster: watch the jobs to the end (false: submit and return)
    base_seed: int  # trial N trains with trainer.seed = base_seed + N
    monitor: str  # trainer.early_stopping.monitor
    dataset: str
    data: Mapping[str, Any]  # the dataset node, loaded once before the first trial
    backend: str | None

    @property
    def param_keys(self) -> list[str]:
        return list(self.space.distributions)

    @property
    def shared_storage(self) -> bool:
        """A database server other machines may write to (not a file of this sweep)."""
        url = self.storage or ""
        return "://" in url and not url.startswith("sqlite")

    @property
    def several_writers(self) -> bool:
        """More than one process writes the study (local worker processes or SLURM jobs)."""
        return self.n_jobs > 1 or self.cluster is not None

    @property
    def searches_dataset(self) -> bool:
        return any(key in self.space.distributions for key in ("dataset", "dataset.name"))

    @property
    def objective_label(self) -> str:
        """How progress lines name the first objective."""
        return self.monitor if self.objectives[0] == "objective" else self.objectives[0]


def check_settings(settings: Mapping[str, Any], config: DictConfig,
                   arguments: Sequence[str]) -> SweepSettings:
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
        raise ConfigError(f"hydra.sweeper.timeout={timeout} must be a positive number "
                          "of seconds, or null for none.", key="hydra.sweeper.timeout")
    max_failure_rate = float(settings["max_failure_rate"])
    if not 0.0 <= max_failure_rate <= 1.0:
        raise ConfigError(f"hydra.sweeper.max_failure_rate={max_failure_rate} must be "
                          "between 0 and 1.", key="hydra.sweeper.max_failure_rate")
    params: Any = settings["params"]
    if isinstance(params, DictConfig):
        params = OmegaConf.to_container(params, resolve=False)
    space = parse_search_space({str(key): value for key, value in dict(params).items()}, arguments)
    if not space.distributions:
        raise ConfigError("the search space is empty: add hydra.sweeper.params (or use "
                          "+sweep=NAME), e.g. hydra.sweeper.params.model.filters='choice(16,32)'.",
                          key="hydra.sweeper.params")
    _check_keys(space, config)
    _check_fixed_values(space, config)
    monitor = str(config.trainer.early_stopping.monitor)
    objectives, directions = _objectives(settings, monitor)
    study_name = settings["study_name"] or config.hydra.runtime.choices.get("sweep") or "cnnsweep"
    baselines = _baselines(settings["baselines"], space)
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
        confirm=_confirm(settings["confirm"]),
        ablation=_ablation(settings["ablation"], baselines, space, config),
        heartbeat=_heartbeat(settings["heartbeat"]),
        warm_start=_warm_start(settings["warm_start"]),
        patience=_patience(settings, len(directions)),
        min_delta=_min_delta(settings["min_delta"]),
        tracking=tracking_settings(OmegaConf.to_container(config.tracking, resolve=True)  # type: ignore[arg-type]
                                   if "tracking" in config else None),
        fidelity=_fidelity(settings["fidelity"]),
        is_worker=settings["role"] == "worker",
        cluster=_cluster(config),
        wait=bool(settings["wait"]),
        base_seed=int(config.trainer.seed),
        monitor=monitor,
        dataset=str(config.dataset.name),
        data=OmegaConf.to_container(config.dataset, resolve=True),  # type: ignore[arg-type]
        backend=config.trainer.backend,
    )


def _baselines(raw: Any, space: SearchSpace) -> tuple[dict[str, Any], ...]:
    """Each baseline's values, every one a searched key at a value of its range."""
    if isinstance(raw, DictConfig | ListConfig):
        raw = OmegaConf.to_container(raw, resolve=True)
    if not raw:
        return ()
    if not isinstance(raw, list) or not all(isinstance(b, dict) for b in raw):
        raise ConfigError("hydra.sweeper.baselines must be a list of {key: value} mappings of searched "
                          "keys, e.g. [{model.filters: 32}].", key="hydra.sweeper.baselines")
    checked = []
    for index, baseline in enumerate(raw):
        values = dotted_keys(baseline)
        for key, value in values.items():
            where = f"hydra.sweeper.baselines[{index}].{key}"
            distribution = space.distributions.get(key)
            if distribution is None:
                raise ConfigError(f"{where}: {key} is not searched, so a baseline cannot set it. Set "
                                  "it with a plain override instead.", key="hydra.sweeper.baselines")
            if not in_range(distribution, value):
                raise ConfigError(f"{where}={value!r} is outside the searched range of {key}. Use a "
                                  "value the search could pick.", key="hydra.sweeper.baselines")
        checked.append(values)
    return tuple(checked)


def _ablation(raw: Any, baselines: tuple[dict[str, Any], ...], space: SearchSpace,
              config: DictConfig) -> AblationSettings:
    """The ablation's seeds, and where its path starts: the first baseline, else the value each
    searched key has in the composed config (the defaults the sweep searches around)."""
    seeds = raw["seeds"]
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 0 <= seeds <= MAX_CONFIRM_SEEDS:
        raise ConfigError(f"hydra.sweeper.ablation.seeds={seeds!r} must be an integer from 0 to "
                          f"{MAX_CONFIRM_SEEDS}: the new seeds each step of the path from the baseline to "
                          "the best trains with (0: no ablation), e.g. hydra.sweeper.ablation.seeds=2.",
                          key="hydra.sweeper.ablation.seeds")
    if not seeds:
        return AblationSettings()
    if baselines:
        return AblationSettings(seeds=seeds, baseline=dict(baselines[0]))
    defaults = {}
    for key in space.distributions:
        value = OmegaConf.select(config, key, default=None)
        if value is not None and not isinstance(value, DictConfig | ListConfig):
            defaults[key] = value
    return AblationSettings(seeds=seeds, baseline=defaults)


def _confirm(raw: Any) -> ConfirmSettings:
    top_k, seeds = raw["top_k"], raw["seeds"]
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
        raise ConfigError(f"hydra.sweeper.confirm.top_k={top_k!r} must be an integer >= 0: how many of "
                          "the best configurations to train again with new seeds (0: none).",
                          key="hydra.sweeper.confirm.top_k")
    if top_k > 0 and (isinstance(seeds, bool) or not isinstance(seeds, int)
                      or not 1 <= seeds <= MAX_CONFIRM_SEEDS):
        raise ConfigError(f"hydra.sweeper.confirm.seeds={seeds!r} must be an integer from 1 to "
                          f"{MAX_CONFIRM_SEEDS} with confirm.top_k={top_k}: the new seeds each "
                          "configuration trains with, e.g. hydra.sweeper.confirm.seeds=3.",
                          key="hydra.sweeper.confirm.seeds")
    return ConfirmSettings(top_k=top_k, seeds=seeds if top_k else 0)


def _heartbeat(raw: Any) -> Heartbeat:
    interval, grace = raw["interval"], raw["grace_period"]
    for key, value in (("interval", interval), ("grace_period", grace)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"hydra.sweeper.heartbeat.{key}={value!r} must be a whole number of "
                              "seconds >= 1.", key=f"hydra.sweeper.heartbeat.{key}")
    if grace < 2 * interval:
        raise ConfigError(f"hydra.sweeper.heartbeat.grace_period={grace} must be at least twice "
                          f"hydra.sweeper.heartbeat.interval={interval}: with less, one late heartbeat "
                          "of a live machine gets its trial failed. E.g. grace_period="
                          f"{4 * interval}.", key="hydra.sweeper.heartbeat.grace_period")
    return Heartbeat(interval=interval, grace_period=grace)


def _warm_start(raw: Any) -> WarmStart | None:
    if isinstance(raw, DictConfig):
        raw = OmegaConf.to_container(raw, resolve=True)
    raw = dict(raw or {})
    source, storage, study_name = raw.get("from"), raw.get("storage"), raw.get("study_name")
    if source is None and storage is None:
        if study_name is not None:
            raise ConfigError("hydra.sweeper.warm_start.study_name needs the storage it is in: set "
                              "hydra.sweeper.warm_start.storage=URL (or warm_start.from=SWEEP_DIR).",
                              key="hydra.sweeper.warm_start.storage")
        return None
    if source is not None and storage is not None:
        raise ConfigError("hydra.sweeper.warm_start.from and warm_start.storage both name the earlier "
                          "study: set one of them.", key="hydra.sweeper.warm_start.from")
    top_k, tell = raw.get("top_k", 5), raw.get("tell", False)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
        raise ConfigError(f"hydra.sweeper.warm_start.top_k={top_k!r} must be an integer >= 0: how many "
                          "of the earlier study's best configurations to try first.",
                          key="hydra.sweeper.warm_start.top_k")
    if not isinstance(tell, bool):
        raise ConfigError(f"hydra.sweeper.warm_start.tell={tell!r} must be true or false.",
                          key="hydra.sweeper.warm_start.tell")
    sweep_dir = None
    if source is not None:
        sweep_dir = Path(str(source)).expanduser().absolute()
        if not sweep_dir.is_dir():
            raise ConfigError(f"hydra.sweeper.warm_start.from={source}: no such folder. Give the "
                              "sweep dir of an earlier sweep (the folder with its trials.csv).",
                              key="hydra.sweeper.warm_start.from")
    return WarmStart(sweep_dir=sweep_dir, storage=None if storage is None else str(storage),
                     study_name=None if study_name is None else str(study_name), top_k=top_k, tell=tell)


def _patience(settings: Mapping[str, Any], n_objectives: int) -> int | None:
    patience = settings["patience"]
    if patience is None:
        return None
    if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
        raise ConfigError(f"hydra.sweeper.patience={patience!r} must be an integer >= 1 (finished "
                          "trials without a better best before the study stops), or null for none.",
                          key="hydra.sweeper.patience")
    if n_objectives > 1:
        raise ConfigError("hydra.sweeper.patience needs a single objective: a study of several "
                          "objectives has a Pareto front, not one best to improve. Remove "
                          "hydra.sweeper.patience.", key="hydra.sweeper.patience")
    return patience


def _min_delta(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not raw >= 0:
        raise ConfigError(f"hydra.sweeper.min_delta={raw!r} must be a number >= 0: the least "
                          "improvement of the best objective that resets hydra.sweeper.patience.",
                          key="hydra.sweeper.min_delta")
    return float(raw)


def _cluster(config: DictConfig) -> Mapping[str, Any] | None:
    """``hydra.launcher`` when it is hydra-submitit-launcher's ``submitit_slurm``, else None."""
    from cnnsweep.sweep.slurm import is_slurm_launcher

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
    return launcher_settings if is_slurm_launcher(launcher_settings) else None


def _fidelity(raw: Any) -> tuple[float, ...]:
    """The shares of the training images for the first epochs, each in (0, 1). (A trial's
    last epoch always trains on every image, so a short run uses only the first shares.)"""
    if isinstance(raw, ListConfig):
        raw = OmegaConf.to_container(raw, resolve=True)
    if not raw:
        return ()
    example = "e.g. hydra.sweeper.fidelity=[0.1,0.3] (epoch 1 on 10% of the training images, epoch 2 on 30%)"
    if not isinstance(raw, list) or not all(
            isinstance(share, int | float) and not isinstance(share, bool) and 0 < share < 1
            for share in raw):
        raise ConfigError(f"hydra.sweeper.fidelity={raw!r} must be a list of shares of the training "
                          "images, each above 0 and below 1 (the epochs after them train on all), "
                          f"{example}.", key="hydra.sweeper.fidelity")
    return tuple(float(share) for share in raw)


def in_range(distribution: BaseDistribution, value: Any) -> bool:
    """Whether the search could pick ``value`` from ``distribution``."""
    if isinstance(distribution, CategoricalDistribution):
        return value in distribution.choices
    low, high = distribution.low, distribution.high  # type: ignore[attr-defined]
    return isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high


def _count(settings: Mapping[str, Any], key: str) -> int:
    value = settings[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"hydra.sweeper.{key}={value!r} must be an integer >= 1.",
                          key=f"hydra.sweeper.{key}")
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
        raise ConfigError(f"hydra.sweeper.params.{key}: no such key in the config.{hint}",
                          key=f"hydra.sweeper.params.{key}")


def _check_fixed_values(space: SearchSpace, config: DictConfig) -> None:
    """Stop now if a value no trial changes breaks a rule (trainer.epochs=-1).

    The config is checked with each searched key at a value of its range; an
    error naming a searched key, or an architecture that does not fit, is left
    to the trials (recorded as infeasible there).
    """
    plain = {key: OmegaConf.to_container(config[key], resolve=True) for key in SECTIONS}
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
    objectives = ["objective"] if objectives is None else (
        [objectives] if isinstance(objectives, str) else list(objectives))
    direction = settings["direction"]
    if direction is None:
        directions = [objective_direction(monitor if o == "objective" else o) for o in objectives]
    else:
        directions = [direction] if isinstance(direction, str) else list(direction)
    for value in directions:
        if value not in DIRECTIONS:
            raise ConfigError(f"hydra.sweeper.direction={value!r} must be maximize or minimize "
                              "(or a list of them, one per objective).", key="hydra.sweeper.direction")
    if len(directions) != len(objectives):
        if objectives == ["objective"] and len(directions) == 2:
            objectives = ["objective", "params_count"]
        else:
            raise ConfigError(
                f"hydra.sweeper.direction has {len(directions)} entries but there are "
                f"{len(objectives)} objectives ({', '.join(objectives)}). Set "
                "hydra.sweeper.objectives to one metrics.json key per direction.",
                key="hydra.sweeper.objectives")
    if objectives[0] == "objective" and directions[0] != objective_direction(monitor):
        raise ConfigError(
            f"hydra.sweeper.direction={directions[0]} contradicts trainer.early_stopping."
            f"monitor={monitor}, which is {objective_direction(monitor)}d. Set "
            f"hydra.sweeper.direction={objective_direction(monitor)} (or leave it null).",
            key="hydra.sweeper.direction")
    return objectives, directions
