"""The schema of the sweeper settings (``hydra.sweeper.*``) and its sampler/pruner groups.

Registered in Hydra's ConfigStore as ``hydra/sweeper=cnnsweep`` with the groups
``hydra/sweeper/sampler`` and ``hydra/sweeper/pruner``, named as in Hydra's own
Optuna plugin so ``hydra/sweeper/sampler=random`` reads the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


# ---------------------------------------------------------------- samplers
@dataclass
class TPESamplerConf:
    _target_: str = "optuna.samplers.TPESampler"
    seed: int | None = None  # same seed, same suggestions
    n_startup_trials: int = 10  # random trials before TPE models the space
    multivariate: bool = True
    constant_liar: bool = True  # parallel workers avoid suggesting the same point


@dataclass
class RandomSamplerConf:
    _target_: str = "optuna.samplers.RandomSampler"
    seed: int | None = None


@dataclass
class GridSamplerConf:
    _target_: str = "optuna.samplers.GridSampler"
    seed: int | None = None  # order in which the grid is visited; the grid comes from params


@dataclass
class CmaEsSamplerConf:
    _target_: str = "optuna.samplers.CmaEsSampler"
    seed: int | None = None
    n_startup_trials: int = 1


@dataclass
class GPSamplerConf:
    _target_: str = "optuna.samplers.GPSampler"  # needs PyTorch: pip install 'cnnsweep[gp]'
    seed: int | None = None
    n_startup_trials: int = 10


@dataclass
class NSGAIISamplerConf:
    _target_: str = "optuna.samplers.NSGAIISampler"  # multi-objective
    seed: int | None = None
    population_size: int = 20


# ---------------------------------------------------------------- pruners
@dataclass
class NopPrunerConf:
    _target_: str = "optuna.pruners.NopPruner"


@dataclass
class MedianPrunerConf:
    _target_: str = "optuna.pruners.MedianPruner"
    n_startup_trials: int = 3  # trials that are never pruned, to learn the median
    n_warmup_steps: int = 2  # no trial is pruned before this epoch
    interval_steps: int = 1


@dataclass
class HyperbandPrunerConf:
    _target_: str = "optuna.pruners.HyperbandPruner"
    min_resource: int = 1  # epochs
    max_resource: Any = "auto"
    reduction_factor: int = 3


@dataclass
class SuccessiveHalvingPrunerConf:
    _target_: str = "cnnsweep.sweep.study.algorithms.SuccessiveHalving"  # Optuna's, with a last rung
    min_resource: Any = 1  # epochs before the first rung ("auto": Optuna guesses from trial 0)
    reduction_factor: int = 3  # the best 1/3 of trials at a rung go on to the next
    min_early_stopping_rate: int = 0
    # No rung after this step: a trial past it trains to its end. null: rungs all the way
    # (then only min_resource/last step of the trials ever finish training).
    last_rung: int | None = None


@dataclass
class PatientPrunerConf:
    _target_: str = "optuna.pruners.PatientPruner"
    wrapped_pruner: Any = field(default_factory=MedianPrunerConf)
    patience: int = 2  # epochs without improvement before the wrapped pruner may act
    min_delta: float = 0.0


SAMPLERS = {
    "tpe": TPESamplerConf,
    "random": RandomSamplerConf,
    "grid": GridSamplerConf,
    "cmaes": CmaEsSamplerConf,
    "gp": GPSamplerConf,
    "nsga2": NSGAIISamplerConf,
}
PRUNERS = {
    "none": NopPrunerConf,
    "median": MedianPrunerConf,
    "hyperband": HyperbandPrunerConf,
    "successive_halving": SuccessiveHalvingPrunerConf,
    "patient": PatientPrunerConf,
}


@dataclass
class AblationConf:
    # The path from the baseline (the first of baselines, else the composed defaults) to the
    # best configuration, one changed setting at a time, each step trained with S new seeds:
    # what each change bought, measured. 0: off.
    seeds: int = 0


@dataclass
class ConfirmConf:
    # The K best configurations by objective, each trained again with S new seeds after the
    # search, so the winner is judged on several runs, not one lucky seed. 0: off.
    top_k: int = 0
    seeds: int = 3  # new seeds per configuration (each run beside the original trial's)


@dataclass
class HeartbeatConf:
    # With a database server (hydra.sweeper.storage=postgresql://...): each running trial
    # writes a heartbeat every `interval` seconds; a trial with none for `grace_period`
    # seconds belongs to a machine that died, and another machine fails it and runs it again.
    interval: int = 10
    grace_period: int = 40


# hydra.sweeper.warm_start: an earlier study whose best configurations a new study tries
# first. A plain mapping, not a dataclass: its key "from" is a Python keyword (Hydra still refuses
# an unknown key under it).
WARM_START_DEFAULTS: dict[str, Any] = {
    "from": None,  # an earlier sweep dir (its own optuna.db / optuna.journal)
    "storage": None,  # or an Optuna storage URL ...
    "study_name": None,  # ... and the study's name there (null: its only study)
    "top_k": 5,  # its N best configurations that fit this space are tried first
    "tell": False,  # true (same dataset and recipe): its finished trials inform the sampler too
}


@dataclass
class CnnsweepSweeperConf:
    _target_: str = "hydra_plugins.cnnsweep_sweeper.cnnsweep_sweeper.CnnsweepSweeper"
    _recursive_: bool = False  # the sweeper builds sampler and pruner itself (seed, grid)
    defaults: list[Any] = field(default_factory=lambda: [{"sampler": "tpe"}, {"pruner": "median"}])
    sampler: Any = MISSING
    pruner: Any = MISSING
    # maximize | minimize, or a list for several objectives; null follows the
    # trainer's monitor (val_acc -> maximize, val_loss -> minimize).
    direction: Any = None
    # metrics.json keys to optimise, one per direction; null = the run's objective.
    objectives: Any = None
    n_trials: int = 20  # total trials of the study, across resumes and machines
    n_jobs: int = 1  # trials running at once on this machine
    # Seconds for the whole sweep, report included: no trial starts when it would not
    # finish in time, and a running one stops at its next epoch with its best epoch so far.
    timeout: float | None = None
    storage: str | None = None  # Optuna storage URL; null = a file in the sweep dir
    study_name: str | None = None  # null = the sweep's name
    max_failure_rate: float = 0.5  # stop when more than this share of trials failed
    params: dict[str, Any] = field(default_factory=dict)  # the search space
    # Configurations tried first, before the sampler's own (key: value of searched keys),
    # so a sweep is never worse than a known good setting.
    baselines: list[Any] = field(default_factory=list)
    # Shares of the training images the first epochs of every trial train on (validation
    # always uses all), e.g. [0.1, 0.3]: weak models are pruned after seconds. With it,
    # the pruner's step is the training images seen, in hundredths of an epoch.
    fidelity: list[float] = field(default_factory=list)
    refit: bool = False  # retrain the best configuration on training + validation images at the end
    # With a timeout: this share of it is kept for the refit, whose epoch count (and so its
    # learning-rate schedule) is sized to the time it gets; 0: the best trial's epoch count.
    refit_share: float = 0.0
    # Average the class probabilities of this many models: the refit (where it ran) and the
    # complete trials, best by the objective first; its test accuracy is reported beside the
    # refit's (the test split never chooses). 0: none.
    ensemble: int = 0
    confirm: ConfirmConf = field(default_factory=ConfirmConf)
    ablation: AblationConf = field(default_factory=AblationConf)
    heartbeat: HeartbeatConf = field(default_factory=HeartbeatConf)
    warm_start: dict[str, Any] = field(default_factory=lambda: dict(WARM_START_DEFAULTS))
    # Stop the study after this many finished trials (complete or pruned) without improving
    # the best objective by more than min_delta; null: spend the whole budget.
    patience: int | None = None
    min_delta: float = 0.0
    # With hydra/launcher=submitit_slurm: false submits the worker jobs and returns at once.
    wait: bool = True
    report: bool = True  # write report.html when the sweep ends (false: python -m cnnsweep.report later)


def register_sweeper_configs() -> None:
    store = ConfigStore.instance()
    store.store(group="hydra/sweeper", name="cnnsweep", node=CnnsweepSweeperConf, provider="cnnsweep")
    for name, node in SAMPLERS.items():
        store.store(group="hydra/sweeper/sampler", name=name, node=node, provider="cnnsweep")
    for name, node in PRUNERS.items():
        store.store(group="hydra/sweeper/pruner", name=name, node=node, provider="cnnsweep")
