"""Benchmark 4 over its rounds: each side's median and range, and cnnsweep's lead over each
side with a 95% interval.

The lead is the difference of the two sides' mean test accuracies, in points, with Welch's
t interval: the rounds of each side are independent runs (a side's seed, its machine's
speed that day), and the sides may have different numbers of rounds. The claim "cnnsweep
leads by at least 0.5 points" is made only where the interval's lower end is above zero;
``tests/test_benchmark_spread.py`` checks how often that happens when no side is better.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping

LEAD_TARGET_POINTS = 0.5
ACCURACY_TARGET = 0.94


def side_protocol(run: Mapping, side: str) -> int | None:
    """The protocol ``side`` ran by in ``run``: one number for every side, or one per side."""
    protocol = run.get("protocol")
    return protocol.get(side) if isinstance(protocol, Mapping) else protocol


def pooled_machine(
    runs: Iterable[Mapping], protocols: Mapping[str, int], ours: str = "cnnsweep"
) -> str | None:
    """The processor of ``ours``'s last round of its current protocol. Rounds are pooled only
    on it: the same minutes on a machine twice as slow are half the budget."""
    mine = [
        run
        for run in runs
        if ours in (run.get("test_acc") or {}) and side_protocol(run, ours) == protocols.get(ours)
    ]
    return mine[-1].get("processor") if mine else None


def pooled(run: Mapping, side: str, protocols: Mapping[str, int], machine: str | None) -> bool:
    """Whether ``side``'s result in ``run`` counts: its current protocol, on ``machine``."""
    return (
        side in protocols
        and side_protocol(run, side) == protocols[side]
        and (machine is None or run.get("processor") == machine)
    )


def side_accuracies(
    runs: Iterable[Mapping], protocols: Mapping[str, int], machine: str | None = None
) -> dict[str, list[float]]:
    """Each side's test accuracies over its rounds of its current protocol (``protocols``) on
    ``machine`` (any, where None), in the order they ran."""
    sides: dict[str, list[float]] = {}
    for run in runs:
        for side, acc in (run.get("test_acc") or {}).items():
            if pooled(run, side, protocols, machine):
                sides.setdefault(side, []).append(float(acc))
    return sides


def lead(ours: list[float], theirs: list[float]) -> dict:
    """Our mean lead over ``theirs`` in points, with its 95% Welch interval where both sides
    have at least two rounds (``ci95_points`` None otherwise)."""
    from scipy import stats

    points = 100 * (statistics.fmean(ours) - statistics.fmean(theirs))
    interval = None
    if len(ours) >= 2 and len(theirs) >= 2:
        a, b = [100 * x for x in ours], [100 * x for x in theirs]
        if statistics.pvariance(a) + statistics.pvariance(b) == 0:  # identical rounds: no spread to test
            interval = (points, points)
        else:
            low, high = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
            interval = (float(low), float(high))
    return {
        "points": round(points, 2),
        "ci95_points": None if interval is None else [round(interval[0], 2), round(interval[1], 2)],
        "rounds": [len(ours), len(theirs)],
    }


def clear_lead(result: Mapping) -> bool:
    """A lead of at least :data:`LEAD_TARGET_POINTS` whose interval excludes zero."""
    interval = result["ci95_points"]
    return interval is not None and result["points"] >= LEAD_TARGET_POINTS and interval[0] > 0


def summary(
    runs: Iterable[Mapping],
    protocols: Mapping[str, int],
    ours: str = "cnnsweep",
    variants: Iterable[str] = (),
    required: Iterable[str] = (),
) -> dict:
    """The medians, ranges and leads RESULTS.md reports, and whether each target is met, from
    the rounds on :func:`pooled_machine`. ``variants`` are our own side set otherwise: our lead
    over each is in ``variant_leads``, apart from the sides we must lead. A lead over every
    side is not met while a ``required`` side has no round there (``missing``)."""
    runs = list(runs)
    machine = pooled_machine(runs, protocols, ours)
    sides = side_accuracies(runs, protocols, machine)
    if ours not in sides:
        return {"sides": {}, "leads": {}, "variant_leads": {}, "accuracy_met": False, "lead_met": False}
    own = {ours, *variants}
    leads = {side: lead(sides[ours], accs) for side, accs in sides.items() if side not in own}
    missing = [side for side in required if side not in sides]
    return {
        "machine": machine,
        "missing": missing,
        "variant_leads": {side: lead(sides[ours], sides[side]) for side in variants if side in sides},
        "sides": {
            side: {"rounds": len(a), "median": round(statistics.median(a), 4), "range": [min(a), max(a)]}
            for side, a in sides.items()
        },
        "leads": leads,
        "accuracy_met": statistics.median(sides[ours]) >= ACCURACY_TARGET,
        "lead_met": bool(leads) and not missing and all(clear_lead(result) for result in leads.values()),
    }


def median_interval(values: Iterable[float], at_least: float = 0.9) -> tuple[float, float, float] | None:
    """A distribution-free interval for the median of whatever drew ``values`` (the rounds of a
    whole-command benchmark, whose noise is the machine's and no normal law): the narrowest
    pair of order statistics that holds the median with probability at least ``at_least``,
    as ``(low, high, coverage)``. None when there are too few values for that (four or fewer
    at 90%: five rounds give their whole range, with 94%)."""
    from scipy import stats

    ordered = sorted(values)
    n = len(ordered)
    for k in range(n // 2, 0, -1):  # the k-th lowest and the k-th highest value
        coverage = 1 - 2 * float(stats.binom.cdf(k - 1, n, 0.5))
        if coverage >= at_least:
            return ordered[k - 1], ordered[n - k], coverage
    return None
