"""Decoded arrays of local dataset files, cached on disk by the files' content.

Decoding gzipped IDX files or pickled CIFAR batches costs about a second per
process; a sweep's worker processes read the decoded copy instead. The cache
lives in ``~/.cache/cnnsweep`` (``CNNSWEEP_CACHE_DIR``; ``off`` disables it).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cnnsweep.atomic import atomic_path
from cnnsweep.data.formats import NPZ_KEYS, Arrays


def cache_dir() -> Path:
    return Path(os.environ.get("CNNSWEEP_CACHE_DIR", Path.home() / ".cache" / "cnnsweep"))


def source_digest(source: Path) -> str:
    """A content hash of a local dataset file or folder (its files, in name order)."""
    files = sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() else [source]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:24]


def read_through_cache(name: str, source: str, read: Callable[[], Arrays]) -> Arrays:
    """The arrays of dataset ``name`` from ``source``: cached ones, or ``read()`` then cached.

    Sources that are not local files (digits, a download) are read every time.
    """
    path = Path(source)
    if os.environ.get("CNNSWEEP_CACHE_DIR") == "off" or not path.exists():
        return read()
    folder: Path | None = None
    try:
        folder = cache_dir() / f"{name}-{source_digest(path)}"
        if (folder / "done").exists():
            x_train, y_train, x_test, y_test = (
                np.load(folder / f"{key}.npy", allow_pickle=False) for key in NPZ_KEYS
            )
            return x_train, y_train, x_test, y_test
    except (OSError, ValueError):
        pass  # unreadable cache: decode again
    arrays = read()
    if folder is None:
        return arrays
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for key, array in zip(NPZ_KEYS, arrays, strict=True):
            with atomic_path(folder / f"{key}.npy") as tmp:
                np.save(tmp, array, allow_pickle=False)
        (folder / "done").write_text(source + "\n")
    except OSError:
        pass  # a read-only home still trains, just without the cache
    return arrays
