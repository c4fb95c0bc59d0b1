"""A run's ``curves.png``: the lesson's loss and accuracy plot, in fonts for any script.

A single run draws its plot at once; a sweep's trials hand theirs to the helper
process of :mod:`cnnsweep.draw_helper`, so drawing never slows the next trial.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from cnnsweep.atomic import save_atomically
from cnnsweep.fonts import wide_fonts

# Okabe-Ito: distinguishable with every common colour-vision deficiency.
TRAIN_COLOUR = "#0072B2"
VAL_COLOUR = "#D55E00"


def plot_curves(
    history: Mapping[str, Sequence[float]], target: Path, *, best_epoch: int | None = None, title: str = ""
) -> Path:
    """The lesson's plot: loss / val_loss and acc / val_acc per epoch, best epoch marked.

    Args:
        history: Keras's ``history.history`` (lists per log key).
        target: the PNG to write.
        best_epoch: 1-based epoch to mark with a vertical line.
        title: figure title.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(10, 4))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.84 if title else 0.9, wspace=0.22)
    for ax, metric, label in ((axes[0], "loss", "loss"), (axes[1], "acc", "accuracy")):
        for key, colour, style in ((metric, TRAIN_COLOUR, "-"), (f"val_{metric}", VAL_COLOUR, "--")):
            values = history.get(key)
            if values:
                ax.plot(
                    range(1, len(values) + 1),
                    values,
                    style,
                    color=colour,
                    marker="o",
                    markersize=3,
                    label=key,
                )
        if best_epoch is not None:
            ax.axvline(best_epoch, color="0.4", linestyle=":", label=f"best epoch ({best_epoch})")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.set_title(label)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right" if metric == "loss" else "lower right")
    if title:
        fig.suptitle(title)
    wide_fonts(fig)
    save_atomically(target, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    return target
