"""Plots of the parameters: the objective by parameter, importance, parallel coordinates,
and the Pareto front of a multi-objective sweep."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize

from cnnsweep.analysis.effects import AT_THE_END, MIN_TRIALS, Analysis
from cnnsweep.report.collect import CollectedSweep
from cnnsweep.report.evaluate import Importance, ParetoFront, is_numeric
from cnnsweep.report.figures import BEST_COLOUR, OKABE_ITO, new_figure, save


def param_effects(sweep: CollectedSweep, target: Path) -> Path | None:
    """Objective against each searched parameter (categorical ones as box + strip plots)."""
    table = sweep.complete()
    keys = [k for k in sweep.param_keys if k in table and table[k].nunique(dropna=True) > 1]
    if table.empty or not keys:
        return None
    cols = min(3, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig, axes = new_figure((4.2 * cols, 3.4 * rows), rows, cols, squeeze=False)
    rng = np.random.default_rng(0)
    for ax, key in zip(axes.flat, keys, strict=False):
        values = table[key]
        numeric = is_numeric(values)
        levels = sorted(values.dropna().unique(), key=lambda v: (str(type(v)), v))
        if numeric and len(levels) > 6:
            ax.scatter(values, table["objective"], s=30, color=OKABE_ITO[0], alpha=0.8)
            positive = values[values > 0]
            if len(positive) == len(values) and positive.max() / positive.min() > 100:
                ax.set_xscale("log")
        else:
            groups = [table.loc[values == level, "objective"].to_numpy() for level in levels]
            ax.boxplot(
                groups,
                tick_labels=[str(level) for level in levels],
                widths=0.5,
                medianprops={"color": BEST_COLOUR},
            )
            for i, group in enumerate(groups, start=1):
                ax.scatter(
                    i + rng.uniform(-0.12, 0.12, len(group)),
                    group,
                    s=22,
                    color=OKABE_ITO[1],
                    alpha=0.8,
                    zorder=3,
                )
        ax.set_xlabel(key)
        ax.set_ylabel(sweep.objective_name)
    for ax in list(axes.flat)[len(keys) :]:
        ax.set_visible(False)
    fig.suptitle(f"{sweep.objective_name} by parameter ({sweep.name})")
    return save(fig, target)


def param_importance(sweep: CollectedSweep, importance: Importance | None, target: Path) -> Path | None:
    """How much each searched parameter explains of the objective, as computed by ``importance``."""
    if importance is None or not importance.values:
        return None
    names = list(importance.values)[::-1]
    fig, ax = new_figure((7, 0.5 * len(names) + 1.6))
    values = np.array([importance.values[n] for n in names])
    spread = None
    if importance.spread:
        low = np.array([importance.spread.get(n, (v, v))[0] for n, v in zip(names, values, strict=True)])
        high = np.array([importance.spread.get(n, (v, v))[1] for n, v in zip(names, values, strict=True)])
        spread = np.vstack([np.clip(values - low, 0, None), np.clip(high - values, 0, None)])
    ax.barh(names, values, color=OKABE_ITO[0], xerr=spread, ecolor="0.3", capsize=3)
    interval = ", bars: 5-95% over bootstrap resamples of the trials" if spread is not None else ""
    ax.set_xlabel(f"importance for {sweep.objective_name} ({importance.method}, sums to 1{interval})")
    ax.set_title(f"parameter importance ({sweep.name})")
    return save(fig, target)


def parallel_coordinates(sweep: CollectedSweep, target: Path) -> Path | None:
    """One line per complete trial across every parameter axis, coloured by objective."""
    table = sweep.complete()
    keys = [k for k in sweep.param_keys if k in table]
    if len(table) < 2 or not keys:
        return None
    axes_names = [*keys, sweep.objective_name]
    scaled = []
    tick_labels = []
    for key in keys:
        values = table[key]
        if is_numeric(values):
            low, high = float(values.min()), float(values.max())
            scaled.append(((values.astype(float) - low) / (high - low or 1)).to_numpy())
            tick_labels.append((f"{low:g}", f"{high:g}"))
        else:
            levels = sorted({str(v) for v in values})
            index = {level: i for i, level in enumerate(levels)}
            scaled.append(np.array([index[str(v)] / max(1, len(levels) - 1) for v in values]))
            tick_labels.append((levels[0], levels[-1]))
    objective = table["objective"].astype(float)
    low, high = objective.min(), objective.max()
    scaled.append(((objective - low) / (high - low or 1)).to_numpy())
    tick_labels.append((f"{low:.4g}", f"{high:.4g}"))
    matrix = np.vstack(scaled).T
    fig, ax = new_figure(figsize=(max(6, 1.8 * len(axes_names)), 4.8))
    cmap = matplotlib.colormaps["viridis"]
    order = np.argsort(objective.to_numpy())
    for i in order if sweep.maximize else order[::-1]:
        ax.plot(range(len(axes_names)), matrix[i], color=cmap(matrix[i, -1]), alpha=0.8, linewidth=1.4)
    for x, (bottom, top) in enumerate(tick_labels):
        ax.axvline(x, color="0.3", linewidth=0.8)
        ax.text(x, -0.06, bottom, ha="center", va="top", fontsize=8)
        ax.text(x, 1.04, top, ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(axes_names)), axes_names, rotation=15)
    ax.set_yticks([])
    ax.set_ylim(-0.15, 1.12)
    ax.grid(False)
    sm = ScalarMappable(cmap=cmap, norm=Normalize(low, high))
    fig.colorbar(sm, ax=ax, label=sweep.objective_name)
    ax.set_title(f"parallel coordinates ({sweep.name})", pad=18)
    return save(fig, target)


def pareto_front(sweep: CollectedSweep, front: ParetoFront | None, target: Path) -> Path | None:
    """For multi-objective sweeps: the trade-off between the first two objectives."""
    if front is None:
        return None
    first, second = front.objectives
    points = front.points
    fig, ax = new_figure((7, 5))
    ax.scatter(points[:, 1], points[:, 0], color=OKABE_ITO[5], s=30, label="trials")
    ax.plot(points[front.front, 1], points[front.front, 0], "o-", color=BEST_COLOUR, label="Pareto front")
    for i in front.front:
        ax.annotate(
            str(front.trial_numbers[i]),
            (points[i, 1], points[i, 0]),
            textcoords="offset points",
            xytext=(4, 4),
            fontsize=8,
        )
    ax.set_xlabel(second)
    ax.set_ylabel(sweep.objective_name if first == "objective" else first)
    if second == "params_count":
        ax.set_xscale("log")
    ax.set_title(f"Pareto front ({sweep.name})")
    ax.legend()
    return save(fig, target)


def effects_forest(sweep: CollectedSweep, analysis: Analysis, target: Path) -> Path | None:
    """Each searched value's conditional effect on the objective with its 95% interval (a
    forest plot), the values the multiplicity-controlled procedure names in colour."""
    rows = [e for e in analysis.conditional if not np.isnan(e.effect)][::-1]  # the first key on top
    if not rows:
        return None
    fig, ax = new_figure((8, 0.34 * len(rows) + 1.9))
    y = np.arange(len(rows))
    effect = np.array([e.effect for e in rows])
    colours = [OKABE_ITO[0] if e.matters else "0.55" for e in rows]
    with_interval = [i for i, e in enumerate(rows) if not np.isnan(e.ci95_lo)]
    ax.hlines(
        y[with_interval],
        [rows[i].ci95_lo for i in with_interval],
        [rows[i].ci95_hi for i in with_interval],
        colors=[colours[i] for i in with_interval],
        linewidth=2,
    )
    ax.scatter(effect, y, color=colours, zorder=3, s=28)
    ax.axvline(0, color=BEST_COLOUR, linewidth=0.9)
    ax.set_yticks(
        y, [f"{e.key}={e.value} vs {e.versus}  ({e.trials} vs {e.others})" for e in rows], fontsize=8
    )
    ax.set_xlabel(
        f"effect on {sweep.objective_name}, the other searched settings held fixed\n"
        "(bars: 95% interval; blue: named after Holm's correction over the keys; "
        f"no bar under {MIN_TRIALS} trials)"
    )
    where = "complete trials" if analysis.scored_at == AT_THE_END else f"every trial at {analysis.scored_at}"
    ax.set_title(f"effect of each searched value ({sweep.name}, {analysis.trials} trials: {where})")
    return save(fig, target)
