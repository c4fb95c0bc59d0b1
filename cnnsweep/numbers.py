"""What kind of number a config value is. YAML and Python both take ``true`` for 1, so
"a whole number" and "a number" here never include a bool."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any


def is_whole(value: Any, at_least: int | None = None, at_most: int | None = None) -> bool:
    """``value`` is a whole number (not a bool), within the bounds given."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        return False
    whole = int(value)
    return (at_least is None or whole >= at_least) and (at_most is None or whole <= at_most)


def is_number(value: Any) -> bool:
    """``value`` is a real number (int, float or a NumPy scalar), not a bool."""
    return isinstance(value, Real) and not isinstance(value, bool)


def finite_or_none(value: float | None) -> float | None:
    """``value`` as a plain float, or None when it is missing, NaN or infinite (YAML and CSV
    files then say nothing rather than ``.nan``)."""
    import math

    return None if value is None or not math.isfinite(value) else float(value)
