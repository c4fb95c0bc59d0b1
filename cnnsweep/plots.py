"""Plots of one run. matplotlib is imported here only, and only when drawing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from cnnsweep.artifacts import save_atomically

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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for ax, metric, label in ((axes[0], "loss", "loss"), (axes[1], "acc", "accuracy")):
        for key, colour, style in ((metric, TRAIN_COLOUR, "-"), (f"val_{metric}", VAL_COLOUR, "--")):
            values = history.get(key)
            if values:
                epochs = range(1, len(values) + 1)
                ax.plot(epochs, values, style, color=colour, marker="o", markersize=3, label=key)
        if best_epoch is not None:
            ax.axvline(best_epoch, color="0.4", linestyle=":", label=f"best epoch ({best_epoch})")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.set_title(label)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    try:
        save_atomically(target, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    finally:
        plt.close(fig)
    return target
