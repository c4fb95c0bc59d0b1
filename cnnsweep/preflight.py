"""Checks before anything runs: the command line, then Hydra's composed config.

Hydra reports an unknown group option (``dataset=foo``) as a multi-line listing
of its search path; cnnsweep answers in one line with the valid choices. Once
Hydra has composed the config, :class:`CheckConfigCallback` validates it and the
output folder before Hydra writes anything. (The sweeper checks its own
``hydra.sweeper.*`` settings: :mod:`cnnsweep.sweep.settings.check`.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from cnnsweep.errors import ConfigError, UserError
from cnnsweep.exits import exit_with

GROUPS = ("dataset", "model", "trainer", "tracking", "sweep", "hydra/sweeper/sampler", "hydra/sweeper/pruner")


def group_options(conf_dir: Path, group: str) -> list[str]:
    if group == "sweep":
        from cnnsweep.sweep.settings.presets import sweep_files

        return sorted(sweep_files())
    if group.startswith("hydra/sweeper/"):
        from cnnsweep.sweep.settings.schema import PRUNERS, SAMPLERS

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
                raise ConfigError(
                    f"{written}={option} is not a known {what}. Use {written}= one of: {', '.join(options)}.",
                    key=key,
                )


def _schema_keys() -> dict[str, set[str]]:
    """Every key of the ``dataset``, ``model`` and ``trainer`` schemas, dotted (``augment.shift``)."""
    import dataclasses

    from cnnsweep.config import Config

    def keys(node: Any, prefix: str = "") -> set[str]:
        found: set[str] = set()
        for field in dataclasses.fields(node):
            found.add(prefix + field.name)
            default = field.default_factory() if callable(field.default_factory) else field.default
            if dataclasses.is_dataclass(default):
                found |= keys(default, f"{prefix}{field.name}.")
        return found

    return {
        field.name: keys(field.default_factory())
        for field in dataclasses.fields(Config)
        if callable(field.default_factory)
    }


def check_known_keys(argv: Sequence[str]) -> None:
    """Raise ConfigError for ``model.filtrs=8`` (a key no config has), with the closest key.

    Keys added on purpose (``+model.extra=1``) are Hydra's business.
    """
    import difflib

    schema = _schema_keys()
    for arg in argv:
        if arg.startswith(("-", "+", "~")) or "=" not in arg:
            continue
        key = arg.split("=", 1)[0]
        section, _, rest = key.partition(".")
        if section not in schema or not rest or rest in schema[section]:
            continue
        known = sorted(f"{section}.{name}" for name in schema[section])
        close = difflib.get_close_matches(key, known, n=1)
        fix = f"Did you mean {close[0]}?" if close else f"The {section} keys are: {', '.join(known)}."
        raise ConfigError(f"{key} is not a key of the {section} config. {fix}", key=key)


KINDS = {"Integer": "a whole number", "Float": "a number", "bool": "true or false"}


def check_value_types(argv: Sequence[str]) -> None:
    """Raise ConfigError for ``model.filters=abc``: a value the key's type cannot take.

    Hydra would report it in six lines with its own type names; this names the key,
    the value and what the key takes, in one line. A sweep's ``a,b`` lists are checked
    value by value; ranges, intervals and interpolations are left to Hydra and the sweeper.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import ChoiceSweep
    from omegaconf import OmegaConf
    from omegaconf.errors import ValidationError

    from cnnsweep.config import Config

    schema = OmegaConf.structured(Config)
    parser = OverridesParser.create()
    for arg in argv:
        if arg.startswith(("-", "+", "~")) or "=" not in arg:
            continue
        key = arg.split("=", 1)[0]
        if key.partition(".")[0] not in schema or "." not in key:
            continue
        try:
            override = parser.parse_override(arg)
        except Exception:  # noqa: BLE001 - a syntax error is Hydra's to report
            continue
        value = override.value()
        values: list[Any] = []
        if isinstance(value, ChoiceSweep):
            values = list(value.list)
        elif not override.is_sweep_override():
            values = [value]
        for one in values:
            if isinstance(one, str) and "${" in one:
                continue
            try:
                OmegaConf.update(schema, key, one, merge=True)
            except ValidationError as exc:
                said = str(exc.msg).splitlines()[0]
                wanted = re.search(r"(?:converted to|not a valid) (\w+)", said)
                takes = KINDS.get(wanted.group(1) if wanted else "", f"other values ({said})")
                raise ConfigError(
                    f"{key}={one} cannot be used: {key} takes {takes}. Fix the value on the command line.",
                    key=key,
                ) from None
            except Exception:  # noqa: BLE001 - anything else is Hydra's to report
                continue


def check_output_dir(directory: str, key: str) -> None:
    """Fail early when ``directory`` cannot be created or written."""
    from cnnsweep.run_files import ensure_writable_dir

    try:
        ensure_writable_dir(Path(directory))
    except OSError as exc:
        raise UserError(
            f"{key}={directory} is not a writable directory ({exc.strerror}). "
            f"Choose another with {key}=PATH.",
            key=key,
        ) from None


class CheckConfigCallback(Callback):
    """Validate the composed config and the output folder before any job starts.

    Hydra turns exceptions raised by callbacks into warnings, so a failed check
    ends the process here (SystemExit passes through Hydra's handlers).
    """

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        from omegaconf import OmegaConf

        from cnnsweep.config import plain_config
        from cnnsweep.errors import Infeasible
        from cnnsweep.tracking import tracking_settings
        from cnnsweep.validation import validate_config

        try:
            validate_config(plain_config(config))
            if "tracking" in config:
                tracking_settings(OmegaConf.to_container(config.tracking, resolve=True))  # type: ignore[arg-type]
            check_output_dir(str(config.hydra.run.dir), "hydra.run.dir")
        except (UserError, Infeasible) as exc:
            exit_with(exc)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            check_output_dir(str(config.hydra.sweep.dir), "hydra.sweep.dir")
        except UserError as exc:
            exit_with(exc)
