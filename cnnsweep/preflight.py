"""Checks on the command line itself, before Hydra composes anything.

Hydra reports an unknown group option (``dataset=foo``) as a multi-line listing
of its search path; cnnsweep answers in one line with the valid choices.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from cnnsweep.errors import ConfigError

GROUPS = ("dataset", "model", "trainer", "sweep", "hydra/sweeper/sampler", "hydra/sweeper/pruner")


def group_options(conf_dir: Path, group: str) -> list[str]:
    if group == "sweep":
        from cnnsweep.sweep.files import sweep_files

        return sorted(sweep_files())
    if group.startswith("hydra/sweeper/"):
        from cnnsweep.sweep.config import PRUNERS, SAMPLERS

        return sorted(SAMPLERS if group.endswith("sampler") else PRUNERS)
    return sorted(p.stem for p in (conf_dir / group).glob("*.yaml"))


def _override_values(value: str) -> Iterable[str]:
    """The options an override names: ``cnn`` or, in a sweep, ``seed,cnn``."""
    if value.startswith(("choice(", "range(", "interval(", "glob(", "${")):
        return ()  # Hydra's own parser checks these
    return (part.strip() for part in value.split(","))


def check_group_choices(argv: Sequence[str], conf_dir: Path) -> None:
    """Raise ConfigError for ``dataset=NAME`` (etc.) naming no config in ``conf_dir``."""
    for arg in argv:
        if arg.startswith("-") or "=" not in arg:
            continue
        written, value = arg.split("=", 1)
        key = written.lstrip("+~")
        if key not in GROUPS:
            continue
        options = group_options(conf_dir, key)
        for option in _override_values(value):
            if option not in options:
                what = key.rsplit("/", 1)[-1]
                raise ConfigError(f"{written}={option} is not a known {what}. "
                                  f"Use {written}= one of: {', '.join(options)}.")
