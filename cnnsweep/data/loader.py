"""Load a dataset: find it, read it (through the cache), check and preprocess it.

Images become float32 in [0, 1] with a channel axis (``NHWC``); labels stay
integer class indices here and are one-hot encoded by the trainer. Loaded data is
kept per process, so the trials of a sweep read each dataset once.
"""

from __future__ import annotations

import functools

import numpy as np

from cnnsweep import faults
from cnnsweep.data import cache, sources
from cnnsweep.data.catalog import Dataset, DatasetSpec, get_spec
from cnnsweep.data.formats import Arrays
from cnnsweep.errors import ConfigError, DataError


def load_dataset(
    name: str, path: str | None = None, *, train_limit: int | None = None, test_limit: int | None = None
) -> Dataset:
    """Load, check and preprocess a dataset (kept per process).

    Args:
        name: one of ``mnist``, ``fashion_mnist``, ``cifar10``, ``digits``.
        path: a local file or directory in the official format, or None to search.
        train_limit: keep only the first N training images.
        test_limit: keep only the first N test images.

    Raises:
        ConfigError: unknown name or a non-positive limit.
        DataError: not found, or the files are not in the expected format.
    """
    for key, limit in (("train_limit", train_limit), ("test_limit", test_limit)):
        if limit is not None and limit < 1:
            raise ConfigError(
                f"dataset.{key}={limit} must be a positive number of images, or null for all of them.",
                key=f"dataset.{key}",
            )
    source = sources.locate(get_spec(name), path)
    faults.point("data")
    return _load(name, source).limited(train_limit, test_limit)


@functools.lru_cache(maxsize=4)
def _load(name: str, source: str) -> Dataset:
    spec = get_spec(name)
    arrays = cache.read_through_cache(name, source, lambda: sources.read_source(spec, source))
    return preprocess(spec, arrays, source)


def forget_loaded() -> None:
    """Drop the datasets kept in this process (tests; a changed file on disk)."""
    _load.cache_clear()


def preprocess(spec: DatasetSpec, arrays: Arrays, source: str) -> Dataset:
    """Check the raw arrays against ``spec`` and scale them as the lesson does.

    Raises:
        DataError: wrong image shape, empty split, label count or range off.
    """
    x_train, y_train, x_test, y_test = arrays
    prepared: list[np.ndarray] = []
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if x.ndim == 3:
            x = x[..., np.newaxis]  # the channel axis the lesson adds with reshape
        if x.ndim != 4 or tuple(x.shape[1:]) != spec.input_shape:
            raise DataError(
                f"{source}: {split} images have shape {tuple(x.shape[1:])}, but {spec.name} "
                f"images are {'x'.join(map(str, spec.input_shape))}. Check dataset.path.",
                key="dataset.path",
            )
        y = np.asarray(y).reshape(-1)
        if len(x) == 0:
            raise DataError(f"{source}: the {split} split is empty. Check dataset.path.", key="dataset.path")
        if len(y) != len(x):
            raise DataError(
                f"{source}: {len(x)} {split} images but {len(y)} labels. "
                "The image and label files do not belong together.",
                key="dataset.path",
            )
        if y.min() < 0 or y.max() >= spec.num_classes:
            raise DataError(
                f"{source}: {split} labels span {y.min()}..{y.max()}, but "
                f"{spec.name} has classes 0..{spec.num_classes - 1}.",
                key="dataset.path",
            )
        prepared += [(x.astype(np.float32) / 255.0), y.astype(np.int64)]
    x_train, y_train, x_test, y_test = prepared
    return Dataset(spec, x_train, y_train, x_test, y_test, source=source)
