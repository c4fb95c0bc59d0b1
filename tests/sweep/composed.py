"""A sweep's config and checked settings, composed from conf/ and sweeps/ as the CLI does."""

from __future__ import annotations

from hydra import compose, initialize_config_dir

from cnnsweep.config import register_configs
from cnnsweep.paths import config_dir
from cnnsweep.sweep.settings.check import check_settings
from cnnsweep.sweep.settings.frozen import SweepSettings
from cnnsweep.sweep.settings.presets import register_sweep_files
from cnnsweep.sweep.settings.schema import register_sweeper_configs


def sweep_config(*overrides: str, sweep_dir: str = "/tmp/s", sweep: str = "seed_cnn"):
    """The composed config (``hydra`` node included) of ``+sweep=NAME dataset=digits``."""
    register_configs()
    register_sweeper_configs()
    register_sweep_files()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose(
            config_name="config",
            return_hydra_config=True,
            overrides=[f"+sweep={sweep}", "dataset=digits", f"hydra.sweep.dir={sweep_dir}", *overrides],
        )


def sweep_settings(*overrides: str, arguments=(), **kwargs) -> SweepSettings:
    config = sweep_config(*overrides, **kwargs)
    return check_settings(config.hydra.sweeper, config, list(arguments))
