"""The study's search: its sampler and pruner, built from ``hydra.sweeper.sampler`` and
``hydra.sweeper.pruner``.

    python -m cnnsweep --multirun +sweep=seed_cnn hydra/sweeper/sampler=cmaes

A sampler is seeded from ``trainer.seed`` (each worker process with its own stream)
and refused before anything starts when its package is missing or the space does not
suit it. :class:`SuccessiveHalving` is Optuna's, with a last rung.
"""

from __future__ import annotations

import logging
from typing import Any

import optuna
from hydra.utils import instantiate
from optuna.trial import FrozenTrial

from cnnsweep.errors import ConfigError
from cnnsweep.sweep.settings.frozen import SweepSettings

log = logging.getLogger("cnnsweep")

CONSTRAINED_SAMPLERS = ("TPESampler", "NSGAIISampler", "GPSampler")


def make_sampler(settings: SweepSettings, worker_index: int | None = None) -> optuna.samplers.BaseSampler:
    """The configured sampler, seeded from ``trainer.seed`` unless it has a seed; each of a
    machine's worker processes (``worker_index``) draws from its own seed stream.

    Raises:
        ConfigError: the sampler cannot be created (a missing package, a bad option).
    """
    config = settings.sampler
    target = str(config["_target_"]).rsplit(".", 1)[-1]
    extra: dict[str, Any] = {}
    if config.get("seed") is None and not settings.shared_storage:
        # Reproducible by default; each worker process gets its own stream so
        # parallel workers do not suggest the same points. (On a shared server
        # storage, machines cannot coordinate seeds: Optuna seeds randomly.)
        worker = -1 if worker_index is None else worker_index
        extra["seed"] = settings.run.base_seed + 1000 * (worker + 1)
    if target == "GridSampler":
        extra["search_space"] = settings.space.grid()
    _check_sampler_fits(target, settings)
    try:
        return instantiate(config, **extra)
    except Exception as exc:
        cause = exc.__cause__ or exc
        raise ConfigError(
            f"hydra.sweeper.sampler ({target}) cannot be created: {type(cause).__name__}: {cause}",
            key="hydra.sweeper.sampler",
        ) from None


# sampler -> (its name in hydra/sweeper/sampler, the package it needs, how to install it)
SAMPLER_PACKAGES = {
    "CmaEsSampler": ("cmaes", "cmaes", "cmaes"),
    "GPSampler": ("gp", "torch", "'cnnsweep[gp]'"),
}


def _check_sampler_fits(target: str, settings: SweepSettings) -> None:
    """Refuse a sampler whose package is missing, or CMA-ES on a space it cannot model.

    Raises:
        ConfigError: naming the sampler, the reason and the fix.
    """
    import importlib.util

    if target in SAMPLER_PACKAGES:
        name, module, install = SAMPLER_PACKAGES[target]
        if importlib.util.find_spec(module) is None:
            raise ConfigError(
                f"hydra/sweeper/sampler={name} needs the {module} "
                f"package, which is not installed: pip install {install}, or use "
                "hydra/sweeper/sampler=tpe.",
                key="hydra.sweeper.sampler",
            )
    numeric = [
        k
        for k, d in settings.space.distributions.items()
        if not isinstance(d, optuna.distributions.CategoricalDistribution)
    ]
    if target == "CmaEsSampler" and not numeric:
        raise ConfigError(
            "hydra/sweeper/sampler=cmaes models numeric ranges only, and every key of "
            "this space is a choice(...): it would sample at random. Search a range "
            "(e.g. trainer.learning_rate='tag(log, interval(1e-4, 1e-2))') or use "
            "hydra/sweeper/sampler=tpe.",
            key="hydra.sweeper.sampler",
        )
    if target == "CmaEsSampler" and len(numeric) < len(settings.space.distributions):
        log.warning(
            "hydra/sweeper/sampler=cmaes models %s; the choice(...) keys are sampled at random",
            ", ".join(numeric),
        )


class SuccessiveHalving(optuna.pruners.SuccessiveHalvingPruner):
    """Optuna's successive halving with a last rung: a trial that passed every rung up to
    step ``last_rung`` trains to its end.

    Rungs fall at ``min_resource * reduction_factor**k``, and only about
    ``min_resource / step`` of the trials get past step: a fine first rung (a share of
    an epoch, with a fidelity) would otherwise let almost no trial finish.
    """

    def __init__(self, *, last_rung: int | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.last_rung = last_rung

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if self.last_rung is not None and step is not None and step > self.last_rung:
            return False
        return super().prune(study, trial)


def make_pruner(settings: SweepSettings) -> optuna.pruners.BasePruner:
    return instantiate(settings.pruner)
