"""Plots of one run, drawn with matplotlib's object API (no pyplot state), so a
sweep can draw a finished trial's curves in the background while the next
trial trains."""

from __future__ import annotations

import atexit
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from cnnsweep.artifacts import save_atomically

log = logging.getLogger("cnnsweep")

# Okabe-Ito: distinguishable with every common colour-vision deficiency.
TRAIN_COLOUR = "#0072B2"
VAL_COLOUR = "#D55E00"


def plot_curves(history: Mapping[str, Sequence[float]], target: Path, *,
                best_epoch: int | None = None, title: str = "") -> Path:
    """The notes' plot: loss / val_loss and acc / val_acc per epoch, best epoch marked.

    Args:
        history: Keras's ``history.history`` (lists per log key).
        target: the PNG to write.
        best_epoch: 1-based epoch to mark with a vertical line.
        title: figure title.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.84 if title else 0.9, wspace=0.22)
    for ax, metric, label in ((axes[0], "loss", "loss"), (axes[1], "acc", "accuracy")):
        for key, colour, style in ((metric, TRAIN_COLOUR, "-"), (f"val_{metric}", VAL_COLOUR, "--")):
            values = history.get(key)
            if values:
                ax.plot(range(1, len(values) + 1), values, style, color=colour, marker="o",
                        markersize=3, label=key)
        if best_epoch is not None:
            ax.axvline(best_epoch, color="0.4", linestyle=":", label=f"best epoch ({best_epoch})")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.set_title(label)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right" if metric == "loss" else "lower right")
    if title:
        fig.suptitle(title)
    save_atomically(target, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    return target


_background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cnnsweep-plots")
_pending: list[Future] = []


def plot_curves_later(history: Mapping[str, Sequence[float]], target: Path, **kwargs) -> None:
    """Draw :func:`plot_curves` on a background thread (call :func:`wait_for_plots`)."""
    _pending.append(_background.submit(plot_curves, dict(history), target, **kwargs))


def wait_for_plots() -> None:
    """Block until every background plot is written; log the ones that failed."""
    while _pending:
        future = _pending.pop(0)
        try:
            future.result()
        except Exception as exc:  # a plot is a convenience, never worth a crash
            log.warning("a curves plot could not be written: %s", exc)


atexit.register(wait_for_plots)
