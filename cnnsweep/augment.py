"""Data augmentation in the input pipeline: random shifts and horizontal flips.

Done on NumPy batches while the model trains (a RandomTranslation layer inside
the model made training many times slower on the JAX backend), seeded per
epoch and batch so a run is reproducible. Imports Keras: import it late.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cnnsweep.backend import import_keras

keras: Any = import_keras()


def augment_batch(images: np.ndarray, rng: np.random.Generator, max_shift: int, flip: bool) -> np.ndarray:
    """``images`` (n, h, w, c) shifted by up to ``max_shift`` pixels each way (zeros fill in)
    and, with ``flip``, half of them mirrored left to right."""
    out = images.copy()
    if flip:
        mirrored = rng.random(len(out)) < 0.5
        out[mirrored] = out[mirrored, :, ::-1]
    if max_shift > 0:
        n, height, width, _ = out.shape
        padded = np.pad(out, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)))
        offsets = rng.integers(0, 2 * max_shift + 1, size=(n, 2))
        for i, (dy, dx) in enumerate(offsets):
            out[i] = padded[i, dy:dy + height, dx:dx + width]
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
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, *, shift: float, flip: bool,
                 seed: int) -> None:
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size
        self.max_shift = int(round(shift * min(x.shape[1], x.shape[2])))
        self.flip = flip
        self.seed = seed
        self.epoch = 0
        self.order = np.random.default_rng((seed, 0)).permutation(len(x))

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        chosen = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        rng = np.random.default_rng((self.seed, self.epoch, index))
        return augment_batch(self.x[chosen], rng, self.max_shift, self.flip), self.y[chosen]

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self.order = np.random.default_rng((self.seed, self.epoch)).permutation(len(self.x))
