"""The report's PNG plots: drawing only, from collected and evaluated records.

Every function takes plain records (a :class:`~cnnsweep.report.collect.CollectedSweep`,
or what :mod:`cnnsweep.report.evaluate` computed) and a target path, draws one
figure with matplotlib's object API (no pyplot, no global rcParams), and returns
the PNG path, or None when the sweep has nothing to show for it. Colours are
Okabe-Ito, readable with the common colour-vision deficiencies.

* :mod:`.trials` - learning curves, optimisation history, epochs, sweeps compared;
* :mod:`.parameters` - the objective by parameter, importance, parallel coordinates, Pareto front;
* :mod:`.best_model` - the best model's confusion matrix and test images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from cnnsweep.atomic import save_atomically
from cnnsweep.fonts import wide_fonts

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
STATE_COLOURS = {
    "complete": "#0072B2",
    "pruned": "#E69F00",
    "failed": "#D55E00",
    "infeasible": "#CC79A7",
    "running": "#009E73",
}
BEST_COLOUR = "#000000"


def style(ax: Axes) -> Axes:
    """The report's look, set on one axes: a light grid, no top/right spines, Okabe-Ito."""
    ax.grid(True, alpha=0.3)
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.set_prop_cycle(cycler(color=OKABE_ITO))
    return ax


def new_figure(
    figsize: tuple[float, float], nrows: int = 1, ncols: int = 1, *, squeeze: bool = True
) -> tuple[Figure, Any]:
    """A figure (constrained layout) and its styled axes, as ``Figure.subplots`` returns them."""
    fig = Figure(figsize=figsize, dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=squeeze)
    for ax in axes.flat if hasattr(axes, "flat") else [axes]:
        style(ax)
    return fig, axes


def save(fig: Figure, target: Path) -> Path:
    """Write ``fig`` as a PNG, its text in fonts that cover any script (:func:`wide_fonts`).

    The constrained layout is computed once, here: ``savefig`` would otherwise draw the whole
    figure an extra time to lay it out (the same PNG, about a fifth more time per figure).
    """
    wide_fonts(fig)
    if (engine := fig.get_layout_engine()) is not None:
        engine.execute(fig)
        fig.set_layout_engine("none")
    save_atomically(target, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    return target
