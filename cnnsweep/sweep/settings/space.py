"""Search spaces: Hydra's sweep syntax in, Optuna distributions out.

model.filters: choice(16, 32, 64)        -> CategoricalDistribution
model.conv_blocks: range(1, 4)           -> IntDistribution(1, 3)
model.dropout: interval(0.0, 0.5)        -> FloatDistribution(0.0, 0.5)
trainer.learning_rate: tag(log, interval(1e-4, 1e-2))  -> log-uniform
model.padding: valid                     -> pinned, not searched
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep
from hydra.errors import HydraException
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from cnnsweep.errors import ConfigError
from cnnsweep.numbers import is_number


@dataclass
class SearchSpace:
    """What a sweep searches, and what every trial gets unchanged."""

    distributions: dict[str, BaseDistribution] = field(default_factory=dict)
    fixed: list[str] = field(default_factory=list)  # plain overrides passed to every trial
    pinned: list[str] = field(default_factory=list)  # keys removed from the search by a plain override

    def grid(self) -> dict[str, list[Any]]:
        """Every value of every parameter, for Optuna's GridSampler."""
        grid = {}
        for key, dist in self.distributions.items():
            if isinstance(dist, CategoricalDistribution):
                grid[key] = list(dist.choices)
            elif isinstance(dist, IntDistribution) and not dist.log:
                grid[key] = list(range(dist.low, dist.high + 1, dist.step))
            else:
                raise ConfigError(
                    f"hydra.sweeper.params.{key} is a continuous range, which a grid sampler "
                    "cannot enumerate. Use choice(...) or range(...) for it, or another sampler "
                    "(hydra/sweeper/sampler=tpe)."
                )
        return grid


def _parse(lines: Sequence[str], where: str) -> list[Override]:
    try:
        return OverridesParser.create().parse_overrides(list(lines))
    except HydraException as exc:
        message = str(exc).splitlines()[0]
        raise ConfigError(f"{where}: {message}") from None


def _distribution(key: str, override: Override) -> BaseDistribution:
    value = override.value()
    where = f"hydra.sweeper.params.{key}"
    if isinstance(value, ChoiceSweep):
        choices = list(value.list)
        if not choices:
            raise ConfigError(f"{where}=choice() is empty. List at least one value.")
        return CategoricalDistribution(choices)  # type: ignore[arg-type]  # Hydra parses plain values
    if isinstance(value, RangeSweep):
        start, stop, step = value.start, value.stop, value.step
        if step is None or step <= 0 or start is None or stop is None or start >= stop:
            raise ConfigError(
                f"{where}=range({start}, {stop}, {step}) is empty or reversed: range(start, stop) "
                "needs start < stop and a positive step (stop is excluded, as in Python)."
            )
        if all(isinstance(v, int) for v in (start, stop, step)):
            last = start + ((stop - 1 - start) // step) * step
            return IntDistribution(int(start), int(last), step=int(step))
        values = []
        current = float(start)
        while current < stop:
            values.append(round(current, 12))
            current += float(step)
        return CategoricalDistribution(values)
    if isinstance(value, IntervalSweep):
        low, high = value.start, value.end
        log = "log" in (value.tags or set())
        if low is None or high is None or not low < high:
            raise ConfigError(
                f"{where}=interval({low}, {high}) is empty or reversed: interval(low, high) needs low < high."
            )
        if log and low <= 0:
            raise ConfigError(f"{where}: a log interval needs low > 0 (got {low}).")
        if isinstance(low, int) and isinstance(high, int):
            return IntDistribution(low, high, log=log)
        return FloatDistribution(float(low), float(high), log=log)
    raise ConfigError(
        f"{where}={override.input_line} is not a search space cnnsweep can use. "
        "Use choice(...), range(...), interval(...) or tag(log, interval(...))."
    )


def parse_search_space(params: Mapping[str, Any], arguments: Sequence[str]) -> SearchSpace:
    """Combine the sweep file's ``params`` with the command line's overrides.

    Args:
        params: ``hydra.sweeper.params`` (key -> sweep expression or plain value).
        arguments: the command line's overrides, as Hydra hands them to a sweeper.

    A sweep expression on the command line adds to (or replaces) the space; a plain
    override of a searched key pins it.
    """
    space = SearchSpace()
    from_params = _parse([f"{key}={value}" for key, value in params.items()], "hydra.sweeper.params")
    for override in from_params:
        if override.is_sweep_override():
            space.distributions[override.key_or_group] = _distribution(override.key_or_group, override)
        else:
            space.fixed.append(str(override.input_line))
    for override in _parse(arguments, "command line"):
        key = override.key_or_group
        if override.is_sweep_override():
            space.distributions[key] = _distribution(key, override)
            continue
        if key in space.distributions:
            del space.distributions[key]
            space.pinned.append(key)
        space.fixed = [line for line in space.fixed if not line.startswith(f"{key}=")]
        space.fixed.append(str(override.input_line))
    return space


_BARE = re.compile(r"^[A-Za-z_][\w./-]*$")


def override_for(key: str, value: Any) -> str:
    """``key=value`` in Hydra's override grammar, quoting strings when needed."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, float):
        text = repr(value)
    elif isinstance(value, str) and not _BARE.match(value):
        text = "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    else:
        text = str(value)
    return f"{key}={text}"


def in_range(distribution: BaseDistribution, value: Any) -> bool:
    """Whether the search could pick ``value`` from ``distribution``."""
    if isinstance(distribution, CategoricalDistribution):
        return value in distribution.choices
    low, high = distribution.low, distribution.high  # type: ignore[attr-defined]
    return is_number(value) and low <= value <= high
