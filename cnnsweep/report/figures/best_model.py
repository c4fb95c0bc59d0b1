"""Plots of the best model on the test split: its confusion matrix and some test images."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from cnnsweep.report.evaluate import Predictions
from cnnsweep.report.figures import STATE_COLOURS, new_figure, save


def confusion_matrix(predictions: Predictions, target: Path) -> Path:
    """Counts of true against predicted class, with the test accuracy in the title."""
    matrix = predictions.confusion()
    classes = predictions.class_names
    fig, ax = new_figure((7.5, 6.5))
    image = ax.imshow(matrix, cmap="Blues")
    ax.grid(False)
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(
            j,
            i,
            str(count),
            ha="center",
            va="center",
            fontsize=8,
            color="white" if count > matrix.max() / 2 else "black",
        )
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(
        f"best trial {predictions.trial_number} on the test split: accuracy {predictions.accuracy:.4f}"
    )
    fig.colorbar(image, ax=ax)
    return save(fig, target)


def example_images(predictions: Predictions, target: Path, cols: int = 8) -> Path:
    """A grid of test images with the prediction and the truth; mistakes framed.

    Every image is drawn on one axes, each in its own cell: an axes per image cost ~0.5 s of
    a sweep's report (ticks, spines and layout 24 times over); one axes costs ~0.1 s.
    """
    shown = predictions.examples()
    classes, truth, predicted = predictions.class_names, predictions.truth, predictions.predicted
    image_inches, caption_inches, gap_inches, title_inches, bottom_inches = 1.25, 0.32, 0.25, 0.45, 0.1
    cell_w = (image_inches + gap_inches) / image_inches  # in image widths: an image is 1 x 1
    cell_h = (image_inches + caption_inches + gap_inches / 2) / image_inches
    rows = math.ceil(len(shown) / cols)
    grid_inches = (cols * cell_w * image_inches, rows * cell_h * image_inches)
    fig = Figure(figsize=(grid_inches[0], grid_inches[1] + title_inches + bottom_inches), dpi=100)
    FigureCanvasAgg(fig)
    height = fig.get_figheight()
    ax = fig.add_axes((0, bottom_inches / height, 1, grid_inches[1] / height))
    for i, index in enumerate(shown):
        left = (i % cols) * cell_w + (cell_w - 1) / 2
        top = (i // cols) * cell_h + (cell_h - 1)
        image = predictions.images[index]
        grey = image.shape[-1] == 1
        ax.imshow(
            image[..., 0] if grey else image,
            cmap="gray" if grey else None,
            extent=(left, left + 1, top + 1, top),
            interpolation="nearest",
        )
        wrong = predicted[index] != truth[index]
        colour = STATE_COLOURS["failed"] if wrong else "black"
        ax.text(
            left + 0.5,
            top - 0.04,
            f"{'✗' if wrong else '✓'} {classes[predicted[index]]}\n(true {classes[truth[index]]})",
            ha="center",
            va="bottom",
            fontsize=7,
            color=colour,
        )
        if wrong:
            ax.add_patch(Rectangle((left, top), 1, 1, fill=False, edgecolor=colour, linewidth=3))
    ax.set_xlim(0, cols * cell_w)
    ax.set_ylim(rows * cell_h, 0)
    ax.set_axis_off()
    fig.suptitle("test images: predicted (true); mistakes framed", y=1 - 0.1 / height, va="top")
    return save(fig, target)
