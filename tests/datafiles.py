"""Tiny dataset files in the official formats, written by the tests themselves."""

from __future__ import annotations

import gzip
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np

from cnnsweep.data.catalog import CIFAR_DIR
from cnnsweep.data.formats import CIFAR_TRAIN_BATCHES, IDX_FILES


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file of unsigned bytes (gzipped if ``path`` ends in .gz)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    payload = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    payload += struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(payload)


def random_images(n: int, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, *shape), dtype=np.uint8)


def random_labels(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed + 1).integers(0, 10, size=n, dtype=np.uint8)


def write_mnist_idx(directory: Path, n_train: int = 60, n_test: int = 20, gz: bool = True) -> Path:
    """The four IDX files of MNIST / Fashion-MNIST, 28x28."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {
        "x_train": random_images(n_train, (28, 28)),
        "y_train": random_labels(n_train),
        "x_test": random_images(n_test, (28, 28), 2),
        "y_test": random_labels(n_test, 2),
    }
    for key, stem in IDX_FILES.items():
        write_idx(directory / (stem + (".gz" if gz else "")), arrays[key])
    return directory


def write_mnist_npz(path: Path, n_train: int = 60, n_test: int = 20, **replace) -> Path:
    """Keras's mnist.npz layout."""
    arrays = {
        "x_train": random_images(n_train, (28, 28)),
        "y_train": random_labels(n_train),
        "x_test": random_images(n_test, (28, 28), 2),
        "y_test": random_labels(n_test, 2),
    }
    arrays.update(replace)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path


def _cifar_batch(n: int, seed: int) -> bytes:
    batch = {
        b"batch_label": b"testing batch",
        b"labels": [int(v) for v in random_labels(n, seed)],
        b"data": random_images(n, (3 * 32 * 32,), seed),
        b"filenames": [f"img_{i}.png".encode() for i in range(n)],
    }
    return pickle.dumps(batch, protocol=2)  # the official files are protocol-2 pickles


def write_cifar_dir(root: Path, per_batch: int = 8) -> Path:
    """A cifar-10-batches-py directory with five training batches and a test batch."""
    directory = root / CIFAR_DIR
    directory.mkdir(parents=True, exist_ok=True)
    for seed, name in enumerate((*CIFAR_TRAIN_BATCHES, "test_batch")):
        (directory / name).write_bytes(_cifar_batch(per_batch, seed))
    return directory


def write_cifar_tar(path: Path, per_batch: int = 8) -> Path:
    """cifar-10-python.tar.gz as published: the batches under cifar-10-batches-py/."""
    source = write_cifar_dir(path.parent / "cifar_src", per_batch)
    with tarfile.open(path, "w:gz") as tar:
        tar.add(source, arcname=CIFAR_DIR)
    return path
