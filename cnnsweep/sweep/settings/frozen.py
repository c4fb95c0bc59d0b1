"""The sweep's settings as frozen objects, checked once by :mod:`.check`.

Every default lives in the sweeper's schema (:mod:`.schema`); these classes hold what
was checked, and the few facts of the run config the sweeper itself needs
(:class:`RunFacts`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnsweep.masking import mask_password
from cnnsweep.sweep.settings.space import SearchSpace
from cnnsweep.tracking import TrackingSettings

MAX_CONFIRM_SEEDS = 1000  # each configuration's new seeds are drawn from a block of this size


@dataclass(frozen=True)
class Heartbeat:
    """``hydra.sweeper.heartbeat``: with a database server, each running trial beats every
    ``interval`` seconds, and a trial silent for ``grace_period`` seconds belongs to a
    machine that died."""

    interval: int
    grace_period: int


@dataclass(frozen=True)
class RunFacts:
    """What the sweeper reads of the run config it sweeps (the run's own values stay in it)."""

    base_seed: int  # trainer.seed: trial N trains with base_seed + N
    monitor: str  # trainer.early_stopping.monitor
    dataset: str  # dataset.name
    data: Mapping[str, Any]  # the dataset node, loaded once before the first trial
    backend: str | None  # trainer.backend

    def trial_seed(self, number: int) -> int:
        """The seed trial ``number`` trains with: ``trainer.seed`` + its number."""
        return self.base_seed + number


@dataclass(frozen=True)
class ConfirmSettings:
    """``hydra.sweeper.confirm``: retrain the ``top_k`` best configurations ``seeds`` times."""

    top_k: int  # 0: no confirmation
    seeds: int  # 0 when there is none

    @property
    def runs(self) -> int:
        return self.top_k * self.seeds


@dataclass(frozen=True)
class AblationSettings:
    """``hydra.sweeper.ablation``: the path from ``baseline`` to the best, ``seeds`` runs a step."""

    seeds: int  # 0: no ablation
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
        if self.sweep_dir is not None:
            return str(self.sweep_dir)
        return f"study {self.study_name or '(its only one)'} in {mask_password(str(self.storage))}"


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
    refit_share: float  # share of the timeout kept for the refit, its epochs sized to it (0: none)
    ensemble: int  # models whose class probabilities are averaged at the end (0: none)
    confirm: ConfirmSettings  # retrain the best configurations with new seeds after the search
    ablation: AblationSettings  # the measured path from the baseline to the best
    heartbeat: Heartbeat  # with a database server: when a silent machine's trial is run again
    warm_start: WarmStart | None  # an earlier study whose best configurations go first
    patience: int | None  # stop after this many finished trials without a better best
    tracking: TrackingSettings | None  # tracking=mlflow: where the sweep's runs also go
    min_delta: float  # what counts as better for patience
    fidelity: tuple[float, ...]  # shares of the training images of every trial's first epochs
    command: tuple[str, ...]  # the sweep's arguments as Hydra parsed them: its workers run them again
    cluster: Mapping[str, Any] | None  # hydra.launcher's settings when it is submitit_slurm
    wait: bool  # with a cluster: watch the jobs to the end (false: submit and return)
    run: RunFacts  # what the sweeper reads of the run config it sweeps

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
        return self.run.monitor if self.objectives[0] == "objective" else self.objectives[0]

    @property
    def single_objective(self) -> bool:
        """One objective: one best, so a confirmation, an ablation, a refit and patience apply."""
        return len(self.directions) == 1
