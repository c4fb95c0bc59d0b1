"""Data augmentation in the input pipeline: random shifts, horizontal flips and cutout.

On the TensorFlow backend the images go through a ``tf.data`` pipeline whose
augmentation runs as graph ops on whole batches, beside the training step
(:func:`augmented_dataset`); elsewhere through NumPy batches of a Keras
``PyDataset`` (:class:`AugmentedBatches`; a RandomTranslation layer inside the
model made training many times slower on the JAX backend). Both are seeded by the
run's seed, so a run is reproducible, and draw new shifts, flips and cutouts every
epoch. Cutout (DeVries and Taylor, 2017) zeroes one square of each image, of side
``cutout`` times the image's shorter side, centred anywhere in it (so clipped at the
borders), after the shift and flip.
Imports Keras: import it late.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cnnsweep.backend import import_keras

keras: Any = import_keras()


def cutout_size(cutout: float, images: np.ndarray) -> int:
    """The side in pixels of the square that cutout zeroes (0: none)."""
    return int(round(cutout * min(images.shape[1], images.shape[2])))


def cutout_mask(height: int, width: int, size: int, centres: np.ndarray) -> np.ndarray:
    """(n, h, w, 1) ones, with a ``size`` x ``size`` square of zeros around each of
    ``centres`` ((n, 2): row, column), clipped at the image's borders."""
    rows, cols = np.arange(height)[None, :, None], np.arange(width)[None, None, :]
    top, left = centres[:, :1, None] - size // 2, centres[:, 1:, None] - size // 2
    inside = (rows >= top) & (rows < top + size) & (cols >= left) & (cols < left + size)
    return (~inside)[..., None].astype(np.float32)


def augment_batch(
    images: np.ndarray, rng: np.random.Generator, max_shift: int, flip: bool, cutout: int = 0
) -> np.ndarray:
    """``images`` (n, h, w, c) shifted by up to ``max_shift`` pixels each way (zeros fill in),
    with ``flip`` half of them mirrored left to right, and with ``cutout`` a square of that
    side zeroed in each."""
    out = images.copy()
    if flip:
        mirrored = rng.random(len(out)) < 0.5
        out[mirrored] = out[mirrored, :, ::-1]
    if max_shift > 0:
        n, height, width, _ = out.shape
        padded = np.pad(out, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)))
        offsets = rng.integers(0, 2 * max_shift + 1, size=(n, 2))
        for i, (dy, dx) in enumerate(offsets):
            out[i] = padded[i, dy : dy + height, dx : dx + width]
    if cutout > 0:
        n, height, width, _ = out.shape
        centres = np.stack([rng.integers(0, height, n), rng.integers(0, width, n)], axis=1)
        out *= cutout_mask(height, width, cutout, centres).astype(out.dtype)
    return out


class AugmentedBatches(keras.utils.PyDataset):
    """Shuffled training batches, augmented afresh every epoch.

    Args:
        x: training images, (n, h, w, c) in [0, 1].
        y: one-hot labels.
        batch_size: images per batch.
        shift: the largest shift as a fraction of the image side.
        flip: mirror half of the images (only for datasets whose classes survive it).
        seed: the run's seed; each epoch and batch draws from its own stream.
        cutout: the side of the square zeroed in each image, as a fraction of its side.
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        batch_size: int,
        *,
        shift: float,
        flip: bool,
        seed: int,
        cutout: float = 0.0,
    ) -> None:
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size
        self.max_shift = int(round(shift * min(x.shape[1], x.shape[2])))
        self.cutout = cutout_size(cutout, x)
        self.flip = flip
        self.seed = seed
        self.epoch = 0
        self.order = np.random.default_rng((seed, 0)).permutation(len(x))

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        chosen = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        rng = np.random.default_rng((self.seed, self.epoch, index))
        return augment_batch(self.x[chosen], rng, self.max_shift, self.flip, self.cutout), self.y[chosen]

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self.order = np.random.default_rng((self.seed, self.epoch)).permutation(len(self.x))


def augmented_dataset(
    x: np.ndarray, y: np.ndarray, batch_size: int, *, shift: float, flip: bool, seed: int, cutout: float = 0.0
) -> Any:
    """A ``tf.data`` pipeline of shuffled, augmented training batches (TensorFlow backend).

    The shuffle order and the augmentation come from ``seed``: the order from tf.data's
    seeded reshuffle, the shifts and flips from one ``tf.random.Generator`` that keeps its
    state across epochs (so every epoch draws anew, and the same seed gives the same run).
    Batches are augmented in order, one after another, so the draws never depend on timing.
    """
    import tensorflow as tf

    max_shift = int(round(shift * min(x.shape[1], x.shape[2])))
    size = cutout_size(cutout, x)
    height, width = x.shape[1], x.shape[2]
    generator = tf.random.Generator.from_seed(seed)

    def augment(images: Any, labels: Any) -> tuple[Any, Any]:
        n = tf.shape(images)[0]
        if flip:
            mirrored = generator.uniform([n]) < 0.5
            images = tf.where(mirrored[:, None, None, None], tf.reverse(images, axis=[2]), images)
        if max_shift > 0:
            offsets = tf.cast(
                generator.uniform([n, 2], -max_shift, max_shift + 1, dtype=tf.int32), tf.float32
            )
            ones, zeros = tf.ones([n, 1]), tf.zeros([n, 1])
            # each output pixel (row, col) reads input (row - dy, col - dx): a translation by (dy, dx)
            transforms = tf.concat(
                [ones, zeros, -offsets[:, 1:], zeros, ones, -offsets[:, :1], zeros, zeros], axis=1
            )
            images = tf.raw_ops.ImageProjectiveTransformV3(
                images=images,
                transforms=transforms,
                output_shape=tf.shape(images)[1:3],
                fill_value=0.0,
                interpolation="NEAREST",
                fill_mode="CONSTANT",
            )
        if size > 0:
            centres = tf.stack(
                [
                    generator.uniform([n], 0, height, dtype=tf.int32),
                    generator.uniform([n], 0, width, dtype=tf.int32),
                ],
                axis=1,
            )
            rows, cols = tf.range(height)[None, :, None], tf.range(width)[None, None, :]
            top, left = centres[:, :1, None] - size // 2, centres[:, 1:, None] - size // 2
            inside = (rows >= top) & (rows < top + size) & (cols >= left) & (cols < left + size)
            images = images * tf.cast(~inside, images.dtype)[..., None]
        return images, labels

    # Shuffled indices, gathered a batch at a time: the shuffle buffer holds numbers, not images.
    every_image, every_label = tf.constant(x), tf.constant(y)
    order = tf.data.Dataset.range(len(x)).shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    batches = order.batch(batch_size).map(
        lambda index: (tf.gather(every_image, index), tf.gather(every_label, index))
    )
    return batches.map(augment).prefetch(tf.data.AUTOTUNE)
