"""A sweep's config and checked settings, composed from conf/ and sweeps/ as the CLI does."""

from __future__ import annotations

from hydra import compose, initialize_config_dir

from cnnsweep.config import register_configs
from cnnsweep.paths import config_dir
from cnnsweep.sweep.files import register_sweep_files
from cnnsweep.sweep.schema import register_sweeper_configs
from cnnsweep.sweep.settings import SweepSettings, check_settings


def sweep_config(*overrides: str, sweep_dir: str = "/tmp/s", sweep: str = "seed_cnn"):
    """The composed config (``hydra`` node included) of ``+sweep=NAME dataset=digits``."""
    register_configs()
    register_sweeper_configs()
    register_sweep_files()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose(config_name="config", return_hydra_config=True,
                       overrides=[f"+sweep={sweep}", "dataset=digits", f"hydra.sweep.dir={sweep_dir}",
                                  *overrides])


def sweep_settings(*overrides: str, arguments=(), **kwargs) -> SweepSettings:
    config = sweep_config(*overrides, **kwargs)
    return check_settings(config.hydra.sweeper, config, list(arguments))
