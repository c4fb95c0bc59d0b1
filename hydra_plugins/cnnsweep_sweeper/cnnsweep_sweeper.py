"""Hydra discovers cnnsweep's Optuna sweeper here (the ``hydra_plugins`` namespace).

The class stays light; the work is in :mod:`cnnsweep.sweep.runner`, imported
only when a sweep actually runs. Like ``python -m cnnsweep``'s own entry point,
it ends the process for a user error or an early stop, with the status from
:mod:`cnnsweep.exits`.
"""

from __future__ import annotations

from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from cnnsweep.sweep.settings.schema import register_sweeper_configs

register_sweeper_configs()


class CnnsweepSweeper(Sweeper):
    """An Optuna study over the CNN's config, one Hydra job per trial."""

    def __init__(self, **settings: Any) -> None:
        self.settings = settings

    def setup(
        self, *, hydra_context: HydraContext | None, task_function: TaskFunction, config: DictConfig | None
    ) -> None:
        assert hydra_context is not None and config is not None, "Hydra sets up a sweeper with both"
        self.hydra_context: HydraContext = hydra_context
        self.task_function = task_function
        self.config: DictConfig = config

    def sweep(self, arguments: list[str]) -> None:
        from cnnsweep.errors import Infeasible, SweepStopped, UserError
        from cnnsweep.exits import exit_with
        from cnnsweep.sweep.runner import run_sweep

        try:
            run_sweep(
                self.settings,
                arguments,
                hydra_context=self.hydra_context,
                task_function=self.task_function,
                config=self.config,
            )
        except (UserError, Infeasible, SweepStopped) as exc:
            exit_with(exc)
