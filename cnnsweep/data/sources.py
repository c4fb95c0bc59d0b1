"""Where a dataset's files are found, and Keras's download when none are.

Searched in order:

1. ``dataset.path`` (a file or directory in the dataset's official format);
2. local copies: ``$CNNSWEEP_DATA_DIR/<name>``, the Keras cache
   (``~/.keras/datasets`` or ``$KERAS_HOME/datasets``), ``/usr/share/datasets/<name>``
   (Debian's ``dataset-fashion-mnist`` installs there);
3. Keras's own download (skipped when ``CNNSWEEP_OFFLINE=1``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cnnsweep.data.catalog import DatasetSpec
from cnnsweep.data.formats import Arrays, read_local
from cnnsweep.errors import DataError

DIGITS_SOURCE = "scikit-learn load_digits()"
KERAS_SOURCE = "keras.datasets"


def local_candidates(spec: DatasetSpec) -> list[Path]:
    """Where a local copy of ``spec``'s dataset may be, in the order searched."""
    roots: list[Path] = []
    if data_dir := os.environ.get("CNNSWEEP_DATA_DIR"):
        roots.append(Path(data_dir))
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    roots.append(keras_home / "datasets")
    roots.append(Path("/usr/share/datasets"))
    return [root / name for root in roots for name in spec.local_names]


def locate(spec: DatasetSpec, path: str | None) -> str:
    """Where ``spec``'s data will be read from: a local path, or a download.

    Raises:
        DataError: nothing local and downloading is not allowed (lists what was tried).
    """
    if spec.name == "digits":
        return DIGITS_SOURCE
    if path:
        return str(Path(path).expanduser().resolve())
    tried = []
    for candidate in local_candidates(spec):
        if candidate.exists():
            return str(candidate)
        tried.append(str(candidate))
    if os.environ.get("CNNSWEEP_OFFLINE", "") in ("", "0"):
        return KERAS_SOURCE
    hint = " On Debian: apt-get install dataset-fashion-mnist." if spec.name == "fashion_mnist" else ""
    raise DataError(
        f"dataset {spec.name} was not found. Tried: {'; '.join(tried)}; Keras download "
        f"(skipped: CNNSWEEP_OFFLINE is set). Set dataset.path=... to the files in the official "
        f"format, or CNNSWEEP_DATA_DIR to a folder holding {spec.local_names[0]}.{hint}",
        key="dataset.path",
    )


def read_source(spec: DatasetSpec, source: str) -> Arrays:
    """The raw arrays of ``source`` (a path :func:`locate` found, digits, or a download)."""
    if source == DIGITS_SOURCE:
        return _load_digits()
    if source != KERAS_SOURCE:
        return read_local(spec, Path(source))
    try:
        return _keras_download(spec.name)
    except DataError:  # downloaded, but not what it should be: that message names the file
        raise
    except Exception as exc:  # no network, proxy, HTTP error: all mean "not here"
        tried = "; ".join(str(c) for c in local_candidates(spec))
        raise DataError(
            f"dataset {spec.name} was not found. Tried: {tried}; Keras download "
            f"({type(exc).__name__}: {str(exc)[:160]}). Set dataset.path=... to the files in "
            f"the official format, or CNNSWEEP_DATA_DIR to a folder holding {spec.local_names[0]}.",
            key="dataset.path",
        ) from None


CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


def _keras_download(name: str) -> Arrays:
    """Keras's download. CIFAR-10's batches are pickles, which Keras's loader unpickles with a
    plain unpickler; here Keras only fetches the tarball and cnnsweep's array-only reader
    reads it. (MNIST's and Fashion-MNIST's files hold no pickles.)"""
    import keras

    if name == "cifar10":
        from cnnsweep.data.formats import read_cifar_tar

        return read_cifar_tar(Path(keras.utils.get_file(fname="cifar-10-python.tar.gz", origin=CIFAR_URL)))
    module = {"mnist": keras.datasets.mnist, "fashion_mnist": keras.datasets.fashion_mnist}[name]
    (x_train, y_train), (x_test, y_test) = module.load_data()
    return x_train, y_train, x_test, y_test


def _load_digits() -> Arrays:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)
    labels = digits.target.astype(np.int64)
    # A fixed held-out 20%, the same for every run and seed.
    order = np.random.default_rng(0).permutation(len(labels))
    test, train = order[:360], order[360:]
    return images[train], labels[train], images[test], labels[test]
