"""Datasets: find the files, read the official formats, preprocess as the notes do.

Where a dataset comes from, in order:

1. ``dataset.path`` (a file or directory in the dataset's official format);
2. local copies: ``$CNNSWEEP_DATA_DIR/<name>``, the Keras cache
   (``~/.keras/datasets`` or ``$KERAS_HOME/datasets``), ``/usr/share/datasets/<name>``
   (Debian's ``dataset-fashion-mnist`` installs there);
3. Keras's own download (skipped when ``CNNSWEEP_OFFLINE=1``).

Images become float32 in [0, 1] with a channel axis (``NHWC``); labels stay
integer class indices here and are one-hot encoded by the trainer. Loaded data is
cached per process, so the trials of a sweep read each dataset once.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import os
import pickle
import struct
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnsweep import faults
from cnnsweep.artifacts import atomic_path
from cnnsweep.errors import ConfigError, DataError

FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)
DIGIT_CLASSES = tuple(str(d) for d in range(10))

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_DIR = "cifar-10-batches-py"

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # x_train, y_train, x_test, y_test


@dataclass(frozen=True)
class DatasetSpec:
    """What is known about a dataset before loading it."""

    name: str
    input_shape: tuple[int, int, int]
    class_names: tuple[str, ...]
    local_names: tuple[str, ...]  # folder / file names it is found under

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


SPECS = {
    "mnist": DatasetSpec("mnist", (28, 28, 1), DIGIT_CLASSES, ("mnist", "mnist.npz")),
    "fashion_mnist": DatasetSpec(
        "fashion_mnist", (28, 28, 1), FASHION_CLASSES,
        ("fashion-mnist", "fashion_mnist", "fashion-mnist.npz", "fashion_mnist.npz"),
    ),
    "cifar10": DatasetSpec(
        "cifar10", (32, 32, 3), CIFAR10_CLASSES,
        (CIFAR_DIR, "cifar-10-python.tar.gz", "cifar10", "cifar-10"),
    ),
    "digits": DatasetSpec("digits", (8, 8, 1), DIGIT_CLASSES, ()),
}


@dataclass(frozen=True)
class Dataset:
    """Preprocessed train and test splits of one dataset."""

    spec: DatasetSpec
    x_train: np.ndarray  # float32, (n, h, w, c), values in [0, 1]
    y_train: np.ndarray  # int64 class indices
    x_test: np.ndarray
    y_test: np.ndarray
    source: str  # where it was read from, for metrics and reports

    def limited(self, train_limit: int | None, test_limit: int | None) -> Dataset:
        """The first ``train_limit`` / ``test_limit`` images (None keeps all)."""
        if train_limit is None and test_limit is None:
            return self
        return Dataset(
            self.spec,
            self.x_train[:train_limit], self.y_train[:train_limit],
            self.x_test[:test_limit], self.y_test[:test_limit],
            self.source,
        )


def get_spec(name: str) -> DatasetSpec:
    try:
        return SPECS[name]
    except KeyError:
        raise ConfigError(
            f"dataset.name={name!r} is not a known dataset. Use dataset= one of: "
            f"{', '.join(SPECS)}."
        ) from None


# ---------------------------------------------------------------- file formats


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file of unsigned bytes (MNIST's format), gzipped or not."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path} cannot be read as IDX data ({exc}); the file is corrupt "
                        "or truncated. Download it again or point dataset.path elsewhere.") from None
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise DataError(f"{path} is not an IDX file of unsigned bytes (bad magic number). "
                        "Expected the official MNIST-format files.")
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


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file of unsigned bytes (gzipped if ``path`` ends in .gz)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    payload = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    payload += struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(payload)


def _find_idx(directory: Path, stem: str) -> Path | None:
    for candidate in (stem + ".gz", stem, stem.replace("-idx", ".idx") + ".gz",
                      stem.replace("-idx", ".idx")):
        if (directory / candidate).is_file():
            return directory / candidate
    return None


def read_idx_dir(directory: Path) -> Arrays:
    """The four official MNIST-format files of a directory."""
    found = {key: _find_idx(directory, stem) for key, stem in IDX_FILES.items()}
    missing = [IDX_FILES[key] for key, path in found.items() if path is None]
    if missing:
        raise DataError(f"{directory} lacks {', '.join(m + '[.gz]' for m in missing)}. "
                        "A MNIST-format directory holds the four official IDX files.")
    return tuple(read_idx(found[key]) for key in IDX_FILES)  # type: ignore[return-value]


def read_npz(path: Path) -> Arrays:
    """Keras's ``mnist.npz`` layout: arrays x_train, y_train, x_test, y_test."""
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in NPZ_KEYS if key not in data.files]
            if missing:
                raise DataError(f"{path} lacks the arrays {', '.join(missing)}. "
                                f"A dataset .npz holds {', '.join(NPZ_KEYS)}.")
            return tuple(np.asarray(data[key]) for key in NPZ_KEYS)  # type: ignore[return-value]
    except DataError:
        raise
    except Exception as exc:  # BadZipFile, OSError, ValueError, zlib.error, ...
        raise DataError(f"{path} cannot be read as a .npz archive ({type(exc).__name__}: {exc}). "
                        "The file is corrupt or not a NumPy .npz.") from None


class _CifarUnpickler(pickle.Unpickler):
    """CIFAR batches are pickles; allow only what they contain (no code runs)."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
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
        raise DataError(f"{where} is not a CIFAR-10 python batch ({type(exc).__name__}: {exc}). "
                        "The file is corrupt or truncated; download it again.") from None
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(f"{where} holds images of {data.shape[1:]} values; a CIFAR-10 batch "
                        "has rows of 3072 (3x32x32).")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, labels


def _read_cifar_batches(read: Callable[[str], bytes | None], where: str) -> Arrays:
    parts = {}
    for name in (*CIFAR_TRAIN_BATCHES, "test_batch"):
        raw = read(name)
        if raw is None:
            raise DataError(f"{where} lacks the CIFAR-10 batch {name}. It should hold "
                            "data_batch_1..5 and test_batch (cifar-10-batches-py).")
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
                return tar.extractfile(member).read() if member is not None else None

            return _read_cifar_batches(read, str(path))
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path} cannot be read as a tar archive ({exc}). The file is "
                        "corrupt or truncated; download cifar-10-python.tar.gz again.") from None


# ---------------------------------------------------------------- resolution


def read_local(spec: DatasetSpec, path: Path) -> Arrays:
    """Read ``path`` in the format ``spec``'s dataset is published in."""
    if not path.exists():
        raise DataError(f"dataset.path={path} does not exist. Point it at the "
                        f"{spec.name} files, or leave it unset to search the usual places.")
    if spec.name == "cifar10":
        if path.is_dir():
            return read_cifar_dir(path)
        if path.name.endswith((".tar.gz", ".tgz", ".tar")):
            return read_cifar_tar(path)
        raise DataError(f"dataset.path={path} is not a CIFAR-10 source. Use the "
                        "cifar-10-batches-py directory or cifar-10-python.tar.gz.")
    if path.is_dir():
        if any(_find_idx(path, stem) for stem in IDX_FILES.values()):
            return read_idx_dir(path)
        npz = sorted(path.glob("*.npz"))
        if len(npz) == 1:
            return read_npz(npz[0])
        raise DataError(f"dataset.path={path} holds no {spec.name} files. Expected the four "
                        "IDX files (train-images-idx3-ubyte.gz, ...) or one .npz.")
    if path.suffix == ".npz":
        return read_npz(path)
    raise DataError(f"dataset.path={path} is not a {spec.name} source. Use a directory of "
                    "IDX files (train-images-idx3-ubyte.gz, ...) or a Keras-style .npz.")


def local_candidates(spec: DatasetSpec) -> list[Path]:
    """Where a local copy of ``spec``'s dataset may be, in the order searched."""
    roots: list[Path] = []
    if data_dir := os.environ.get("CNNSWEEP_DATA_DIR"):
        roots.append(Path(data_dir))
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    roots.append(keras_home / "datasets")
    roots.append(Path("/usr/share/datasets"))
    return [root / name for root in roots for name in spec.local_names]


def _keras_download(name: str) -> Arrays:
    import keras

    module = {"mnist": keras.datasets.mnist, "fashion_mnist": keras.datasets.fashion_mnist,
              "cifar10": keras.datasets.cifar10}[name]
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


DIGITS_SOURCE = "scikit-learn load_digits()"
KERAS_SOURCE = "keras.datasets"


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
    hint = (" On Debian: apt-get install dataset-fashion-mnist."
            if spec.name == "fashion_mnist" else "")
    raise DataError(
        f"dataset {spec.name} was not found. Tried: {'; '.join(tried)}; Keras download "
        f"(skipped: CNNSWEEP_OFFLINE is set). Set dataset.path=... to the files in the official "
        f"format, or CNNSWEEP_DATA_DIR to a folder holding {spec.local_names[0]}.{hint}"
    )


def _read(spec: DatasetSpec, source: str) -> Arrays:
    if source == DIGITS_SOURCE:
        return _load_digits()
    if source != KERAS_SOURCE:
        return read_local(spec, Path(source))
    try:
        return _keras_download(spec.name)
    except Exception as exc:  # no network, proxy, HTTP error: all mean "not here"
        tried = "; ".join(str(c) for c in local_candidates(spec))
        raise DataError(
            f"dataset {spec.name} was not found. Tried: {tried}; Keras download "
            f"({type(exc).__name__}: {str(exc)[:160]}). Set dataset.path=... to the files in "
            f"the official format, or CNNSWEEP_DATA_DIR to a folder holding {spec.local_names[0]}."
        ) from None


def _preprocess(spec: DatasetSpec, arrays: Arrays, source: str) -> Dataset:
    x_train, y_train, x_test, y_test = arrays
    prepared = []
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if x.ndim == 3:
            x = x[..., np.newaxis]  # the channel axis the notes add with reshape
        if x.ndim != 4 or tuple(x.shape[1:]) != spec.input_shape:
            raise DataError(
                f"{source}: {split} images have shape {tuple(x.shape[1:])}, but {spec.name} "
                f"images are {'x'.join(map(str, spec.input_shape))}. Check dataset.path."
            )
        y = np.asarray(y).reshape(-1)
        if len(x) == 0:
            raise DataError(f"{source}: the {split} split is empty. Check dataset.path.")
        if len(y) != len(x):
            raise DataError(f"{source}: {len(x)} {split} images but {len(y)} labels. "
                            "The image and label files do not belong together.")
        if y.min() < 0 or y.max() >= spec.num_classes:
            raise DataError(f"{source}: {split} labels span {y.min()}..{y.max()}, but "
                            f"{spec.name} has classes 0..{spec.num_classes - 1}.")
        prepared += [(x.astype(np.float32) / 255.0), y.astype(np.int64)]
    return Dataset(spec, *prepared, source=source)


def cache_dir() -> Path:
    return Path(os.environ.get("CNNSWEEP_CACHE_DIR", Path.home() / ".cache" / "cnnsweep"))


def _source_digest(source: Path) -> str:
    """A content hash of a local dataset file or folder (its files, in name order)."""
    files = sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() else [source]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:24]


def _read_through_disk_cache(spec: DatasetSpec, source: str) -> Arrays:
    """Decoded arrays of a local source, cached as .npy files keyed by the source's content.

    Decoding gzipped IDX files or pickled CIFAR batches costs about a second per
    process; a sweep's worker processes read the decoded copy instead. Set
    CNNSWEEP_CACHE_DIR=off to disable.
    """
    path = Path(source)
    if os.environ.get("CNNSWEEP_CACHE_DIR") == "off" or not path.exists():
        return _read(spec, source)
    try:
        folder = cache_dir() / f"{spec.name}-{_source_digest(path)}"
        if (folder / "done").exists():
            return tuple(np.load(folder / f"{key}.npy", allow_pickle=False) for key in NPZ_KEYS)  # type: ignore[return-value]
    except (OSError, ValueError):
        pass  # unreadable cache: decode again
    arrays = _read(spec, source)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for key, array in zip(NPZ_KEYS, arrays, strict=True):
            with atomic_path(folder / f"{key}.npy") as tmp:
                np.save(tmp, array, allow_pickle=False)
        (folder / "done").write_text(source + "\n")
    except OSError:
        pass  # a read-only home still trains, just without the cache
    return arrays


@functools.lru_cache(maxsize=4)
def _load_cached(name: str, source: str) -> Dataset:
    spec = get_spec(name)
    return _preprocess(spec, _read_through_disk_cache(spec, source), source)


def load_dataset(name: str, path: str | None = None, *, train_limit: int | None = None,
                 test_limit: int | None = None) -> Dataset:
    """Load, check and preprocess a dataset (cached per process).

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
            raise ConfigError(f"dataset.{key}={limit} must be a positive number of images, "
                              f"or null for all of them.")
    source = locate(get_spec(name), path)
    faults.point("data")
    return _load_cached(name, source).limited(train_limit, test_limit)
