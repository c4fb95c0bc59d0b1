"""Hydra discovers cnnsweep's Optuna sweeper here (the ``hydra_plugins`` namespace).

The class stays light; the work is in :mod:`cnnsweep.sweep.runner`, imported
only when a sweep actually runs.
"""

from __future__ import annotations

from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from cnnsweep.sweep.config import register_sweeper_configs

register_sweeper_configs()


class CnnsweepSweeper(Sweeper):
    """An Optuna study over the CNN's config, one Hydra job per trial."""

    def __init__(self, **settings: Any) -> None:
        self.settings = settings

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        from cnnsweep.sweep.runner import SweepRunner

        self.runner = SweepRunner(self.settings, hydra_context=hydra_context,
                                  task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> Any:
        return self.runner.sweep(arguments)
