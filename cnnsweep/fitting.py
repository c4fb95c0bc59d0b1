"""The Keras side of one run's training: which images each epoch trains on, the fit
calls, what they train and validate on, and their logs as one history.
:mod:`cnnsweep.training` decides what to fit and keeps the books; this module only fits.
Keras and TensorFlow are imported only when a fit asks for augmented or batched data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cnnsweep.data.catalog import Dataset


def epoch_images(n_images: int, epochs: int, shares: Sequence[float]) -> list[int]:
    """How many training images each epoch trains on: the subset epochs' ``shares`` of
    ``n_images`` first (fewer than all; the last epoch always trains on all), then all."""
    subset = [min(n_images - 1, max(1, round(share * n_images))) for share in shares[: epochs - 1]]
    return subset + [n_images] * (epochs - len(subset))


def fit_in_phases(
    model: Any,
    trainer: Mapping[str, Any],
    data: Dataset,
    fit_split: tuple,
    validation: tuple | None,
    epoch_images: list[int],
    histories: list[dict[str, list[float]]],
    *,
    callbacks: list[Any],
    early_stopping: Any,
) -> None:
    """Fit for ``len(epoch_images)`` epochs, appending each fit's logs to ``histories``.

    Each subset epoch (fewer images than ``fit_split`` holds) is a one-epoch fit on a
    seeded random share of the images; the full epochs follow in one fit, the only
    one with early stopping. A callback that stops training ends it at that epoch.
    """
    x_fit, y_fit = fit_split
    subset_epochs = [n for n in epoch_images if n < len(x_fit)]
    validation = validation_batches(validation, int(trainer["batch_size"]))
    for epoch, images in enumerate(subset_epochs):
        order = np.random.default_rng(int(trainer["seed"]) + epoch).permutation(len(x_fit))
        picked = np.sort(order[:images])
        fit = model.fit(
            **training_data(trainer, data, x_fit[picked], y_fit[picked], fit_index=epoch),
            validation_data=validation,
            initial_epoch=epoch,
            epochs=epoch + 1,
            callbacks=callbacks,
            verbose=0,
        )
        histories.append(history_of(model, fit))
        if model.stop_training:  # pruned, past the deadline, or a NaN loss
            return
    fit = model.fit(
        **training_data(trainer, data, x_fit, y_fit, fit_index=len(subset_epochs)),
        validation_data=validation,
        initial_epoch=len(subset_epochs),
        epochs=len(epoch_images),
        callbacks=callbacks + ([early_stopping] if early_stopping else []),
        verbose=0,
    )
    histories.append(history_of(model, fit))


def validation_batches(validation: tuple | None, batch_size: int) -> Any:
    """What ``model.fit`` validates on: with TensorFlow, the images and labels in batches of
    ``batch_size`` as a ``tf.data`` dataset, in order, the very batches Keras would cut from
    the arrays. Handed arrays, Keras builds a pipeline of traced slicing functions for every
    fit, a cost each trial of a sweep pays (several times that of validating digits' 288
    images on these batches); the metrics are the same. Other backends get the arrays."""
    if validation is None:
        return None
    from cnnsweep import augment

    if augment.keras.backend.backend() != "tensorflow":
        return validation
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(validation).batch(batch_size)


SEED_STEP_PER_FIT = 7919  # each fit of a run (a subset epoch, then the full ones) augments from its own seed


def training_data(
    trainer: Mapping[str, Any], data: Dataset, x: np.ndarray, y: np.ndarray, fit_index: int = 0
) -> dict[str, Any]:
    """What ``model.fit`` trains on: the arrays, or augmented batches when the trainer asks
    (``fit_index``: which of the run's fits, so each draws its own shifts, flips and cutouts).

    Flips apply only to datasets whose classes survive mirroring (not digits).
    """
    augment = trainer["augment"]
    shift, cutout = float(augment["shift"]), float(augment["cutout"])
    flip = bool(augment["flip"]) and data.spec.mirrors
    batch_size = int(trainer["batch_size"])
    if shift <= 0 and not flip and cutout <= 0:
        return {"x": x, "y": y, "batch_size": batch_size}
    from cnnsweep import augment

    seed = int(trainer["seed"]) + SEED_STEP_PER_FIT * fit_index
    how = {"shift": shift, "flip": flip, "cutout": cutout, "seed": seed}
    if augment.keras.backend.backend() == "tensorflow":  # graph ops beside the training step
        return {
            "x": augment.augmented_dataset(x, y, batch_size, **how),
            "shuffle": False,
        }  # the pipeline shuffles, seeded
    return {"x": augment.AugmentedBatches(x, y, batch_size, **how)}


def history_of(model: Any, fit: Any = None) -> dict[str, list[float]]:
    """Keras's per-epoch logs as plain floats (also after an interrupted fit)."""
    source = fit if fit is not None else getattr(model, "history", None)
    logs = getattr(source, "history", None) or {}
    return {key: [float(v) for v in values] for key, values in logs.items()}


def joined(histories: list[dict[str, list[float]]]) -> dict[str, list[float]]:
    """The per-epoch logs of consecutive fits as one history."""
    joined: dict[str, list[float]] = {}
    for history in histories:
        for key, values in history.items():
            joined.setdefault(key, []).extend(values)
    return joined
