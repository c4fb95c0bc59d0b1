"""Command line: ``python -m cnnsweep [OVERRIDES]`` trains one CNN.

    python -m cnnsweep dataset=fashion_mnist trainer.epochs=2
    python -m cnnsweep --multirun +sweep=seed_cnn

Errors end here, and only here, as one line and an exit status
(:mod:`cnnsweep.exits`); below this everything raises.
"""

from __future__ import annotations

import sys
from typing import Any

import hydra
from omegaconf import DictConfig

from cnnsweep.config import register_configs
from cnnsweep.paths import config_dir
from cnnsweep.sweep.settings.presets import register_sweep_files

register_configs()
register_sweep_files()  # +sweep=NAME


@hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")
def task(config: DictConfig, hooks: Any = None) -> Any:
    """Hydra's task function: one run, or (with ``hooks`` from the sweeper) one trial."""
    from cnnsweep import job
    from cnnsweep.errors import TrialError, UserError
    from cnnsweep.exits import exit_with

    try:
        return job.run(config, hooks)
    except (UserError, TrialError) as exc:
        exit_with(exc, details=f" (details in {job.run_dir()}/metrics.json)")


def main() -> None:
    from cnnsweep.errors import UserError
    from cnnsweep.exits import exit_with
    from cnnsweep.preflight import check_group_choices, check_known_keys, check_value_types

    try:
        check_group_choices(sys.argv[1:], config_dir())
        check_known_keys(sys.argv[1:])
        check_value_types(sys.argv[1:])
    except UserError as exc:
        exit_with(exc)
    task()


if __name__ == "__main__":
    main()
