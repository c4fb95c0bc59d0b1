"""The official file formats: MNIST's IDX files, Keras's .npz, CIFAR-10's pickled batches.

Every reader returns ``(x_train, y_train, x_test, y_test)`` as stored, and
raises :class:`~cnnsweep.errors.DataError` naming the file and the fix when the
file is corrupt, truncated or of another format. Nothing read here can run code:
npz files load without pickle, CIFAR batches through an unpickler that accepts
only arrays.
"""

from __future__ import annotations

import gzip
import io
import pickle
import struct
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cnnsweep.data.catalog import CIFAR_DIR, DatasetSpec
from cnnsweep.errors import DataError

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # x_train, y_train, x_test, y_test


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file of unsigned bytes (MNIST's format), gzipped or not."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(
            f"{path} cannot be read as IDX data ({exc}); the file is corrupt "
            "or truncated. Download it again or point dataset.path elsewhere."
        ) from None
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise DataError(
            f"{path} is not an IDX file of unsigned bytes (bad magic number). "
            "Expected the official MNIST-format files."
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"{path} has a truncated IDX header. Download the file again.")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(dims))
    if len(raw) - header != expected:
        raise DataError(
            f"{path} is truncated or corrupt: its header promises {expected} bytes of data "
            f"({'x'.join(map(str, dims))}) but it holds {len(raw) - header}. Download it again."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def find_idx(directory: Path, stem: str) -> Path | None:
    for candidate in (stem + ".gz", stem, stem.replace("-idx", ".idx") + ".gz", stem.replace("-idx", ".idx")):
        if (directory / candidate).is_file():
            return directory / candidate
    return None


def read_idx_dir(directory: Path) -> Arrays:
    """The four official MNIST-format files of a directory."""
    found = {key: find_idx(directory, stem) for key, stem in IDX_FILES.items()}
    missing = [IDX_FILES[key] for key, path in found.items() if path is None]
    if missing:
        raise DataError(
            f"{directory} lacks {', '.join(m + '[.gz]' for m in missing)}. "
            "A MNIST-format directory holds the four official IDX files."
        )
    x_train, y_train, x_test, y_test = (read_idx(path) for path in found.values() if path is not None)
    return x_train, y_train, x_test, y_test


def read_npz(path: Path) -> Arrays:
    """Keras's ``mnist.npz`` layout: arrays x_train, y_train, x_test, y_test."""
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in NPZ_KEYS if key not in data.files]
            if missing:
                raise DataError(
                    f"{path} lacks the arrays {', '.join(missing)}. "
                    f"A dataset .npz holds {', '.join(NPZ_KEYS)}."
                )
            return tuple(np.asarray(data[key]) for key in NPZ_KEYS)  # type: ignore[return-value]
    except DataError:
        raise
    except Exception as exc:  # BadZipFile, OSError, ValueError, zlib.error, ...
        raise DataError(
            f"{path} cannot be read as a .npz archive ({type(exc).__name__}: {exc}). "
            "The file is corrupt or not a NumPy .npz."
        ) from None


class _CifarUnpickler(pickle.Unpickler):
    """CIFAR batches are pickles; allow only what they contain (no code runs)."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def _read_cifar_batch(raw: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        batch = _CifarUnpickler(io.BytesIO(raw), encoding="bytes").load()
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except Exception as exc:  # any malformed pickle ends up here
        raise DataError(
            f"{where} is not a CIFAR-10 python batch ({type(exc).__name__}: {exc}). "
            "The file is corrupt or truncated; download it again."
        ) from None
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(
            f"{where} holds images of {data.shape[1:]} values; a CIFAR-10 batch has rows of 3072 (3x32x32)."
        )
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, labels


def _read_cifar_batches(read: Callable[[str], bytes | None], where: str) -> Arrays:
    parts = {}
    for name in (*CIFAR_TRAIN_BATCHES, "test_batch"):
        raw = read(name)
        if raw is None:
            raise DataError(
                f"{where} lacks the CIFAR-10 batch {name}. It should hold "
                "data_batch_1..5 and test_batch (cifar-10-batches-py)."
            )
        parts[name] = _read_cifar_batch(raw, f"{where}/{name}")
    x_train = np.concatenate([parts[n][0] for n in CIFAR_TRAIN_BATCHES])
    y_train = np.concatenate([parts[n][1] for n in CIFAR_TRAIN_BATCHES])
    return x_train, y_train, *parts["test_batch"]


def read_cifar_dir(directory: Path) -> Arrays:
    if (directory / CIFAR_DIR).is_dir():
        directory = directory / CIFAR_DIR

    def read(name: str) -> bytes | None:
        path = directory / name
        return path.read_bytes() if path.is_file() else None

    return _read_cifar_batches(read, str(directory))


def read_cifar_tar(path: Path) -> Arrays:
    try:
        with tarfile.open(path, "r:*") as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}

            def read(name: str) -> bytes | None:
                member = members.get(name)
                stream = tar.extractfile(member) if member is not None else None
                return stream.read() if stream is not None else None

            return _read_cifar_batches(read, str(path))
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise DataError(
            f"{path} cannot be read as a tar archive ({exc}). The file is "
            "corrupt or truncated; download cifar-10-python.tar.gz again."
        ) from None


def read_local(spec: DatasetSpec, path: Path) -> Arrays:
    """Read ``path`` in the format ``spec``'s dataset is published in."""
    if not path.exists():
        raise DataError(
            f"dataset.path={path} does not exist. Point it at the "
            f"{spec.name} files, or leave it unset to search the usual places."
        )
    if spec.name == "cifar10":
        if path.is_dir():
            return read_cifar_dir(path)
        if path.name.endswith((".tar.gz", ".tgz", ".tar")):
            return read_cifar_tar(path)
        raise DataError(
            f"dataset.path={path} is not a CIFAR-10 source. Use the "
            "cifar-10-batches-py directory or cifar-10-python.tar.gz."
        )
    if path.is_dir():
        if any(find_idx(path, stem) for stem in IDX_FILES.values()):
            return read_idx_dir(path)
        npz = sorted(path.glob("*.npz"))
        if len(npz) == 1:
            return read_npz(npz[0])
        raise DataError(
            f"dataset.path={path} holds no {spec.name} files. Expected the four "
            "IDX files (train-images-idx3-ubyte.gz, ...) or one .npz."
        )
    if path.suffix == ".npz":
        return read_npz(path)
    raise DataError(
        f"dataset.path={path} is not a {spec.name} source. Use a directory of "
        "IDX files (train-images-idx3-ubyte.gz, ...) or a Keras-style .npz."
    )
