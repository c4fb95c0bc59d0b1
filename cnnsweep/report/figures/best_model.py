"""Plots of the best model on the test split: its confusion matrix and some test images."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

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


def example_images(predictions: Predictions, target: Path) -> Path:
    """A grid of test images with the prediction and the truth; mistakes framed."""
    shown = predictions.examples()
    classes, truth, predicted = predictions.class_names, predictions.truth, predictions.predicted
    cols = 8
    rows = math.ceil(len(shown) / cols)
    fig, axes = new_figure((cols * 1.5, rows * 1.75), rows, cols, squeeze=False)
    for ax, index in zip(axes.flat, shown, strict=False):
        image = predictions.images[index]
        ax.imshow(
            image.squeeze(-1) if image.shape[-1] == 1 else image,
            cmap="gray" if image.shape[-1] == 1 else None,
        )
        wrong = predicted[index] != truth[index]
        ax.set_title(
            f"{'✗' if wrong else '✓'} {classes[predicted[index]]}\n(true {classes[truth[index]]})",
            fontsize=7,
            color=STATE_COLOURS["failed"] if wrong else "black",
        )
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        for spine in ax.spines.values():
            spine.set_visible(wrong)
            spine.set_color(STATE_COLOURS["failed"])
            spine.set_linewidth(3)
    for ax in list(axes.flat)[len(shown) :]:
        ax.set_visible(False)
    fig.suptitle("test images: predicted (true); mistakes framed")
    return save(fig, target)
