"""The decoded-array cache: keyed by the source files' content, never required."""

import numpy as np

from cnnsweep.data import cache, sources
from cnnsweep.data.formats import NPZ_KEYS
from cnnsweep.data.loader import forget_loaded, load_dataset
from tests.datafiles import write_idx, write_mnist_idx


def test_decoded_arrays_are_cached_on_disk_by_content(tmp_path, monkeypatch):
    store = tmp_path / "cache"
    monkeypatch.setenv("CNNSWEEP_CACHE_DIR", str(store))
    source = write_mnist_idx(tmp_path / "m")
    first = load_dataset("mnist", str(source))
    entries = list(store.iterdir())
    assert len(entries) == 1 and (entries[0] / "done").exists()
    forget_loaded()
    calls = []
    monkeypatch.setattr(sources, "read_source", lambda *a: calls.append(a))  # must not decode again
    again = load_dataset("mnist", str(source))
    assert calls == []
    np.testing.assert_array_equal(first.x_train, again.x_train)
    monkeypatch.undo()
    monkeypatch.setenv("CNNSWEEP_CACHE_DIR", str(store))
    write_idx(source / "t10k-labels-idx1-ubyte.gz", np.zeros(20, dtype=np.uint8))  # new content
    forget_loaded()
    changed = load_dataset("mnist", str(source))
    assert len(list(store.iterdir())) == 2 and changed.y_test.max() == 0


def test_the_cache_can_be_switched_off_and_a_broken_entry_is_decoded_again(tmp_path, monkeypatch):
    source = write_mnist_idx(tmp_path / "m")
    arrays = tuple(np.arange(4) + i for i in range(4))
    reads = []

    def read():
        reads.append(1)
        return arrays

    monkeypatch.setenv("CNNSWEEP_CACHE_DIR", "off")
    cache.read_through_cache("mnist", str(source), read)
    assert reads == [1] and not (tmp_path / "off").exists()

    monkeypatch.setenv("CNNSWEEP_CACHE_DIR", str(tmp_path / "cache"))
    cache.read_through_cache("mnist", str(source), read)
    cached = cache.read_through_cache("mnist", str(source), read)
    assert reads == [1, 1] and all(np.array_equal(a, b) for a, b in zip(cached, arrays, strict=True))
    (folder,) = (tmp_path / "cache").iterdir()
    (folder / f"{NPZ_KEYS[0]}.npy").write_bytes(b"not numpy")
    cache.read_through_cache("mnist", str(source), read)
    assert reads == [1, 1, 1]


def test_the_digest_follows_content_not_timestamps(tmp_path):
    source = write_mnist_idx(tmp_path / "m")
    before = cache.source_digest(source)
    for path in source.iterdir():
        path.touch()
    assert cache.source_digest(source) == before
    write_idx(source / "t10k-labels-idx1-ubyte.gz", np.ones(20, dtype=np.uint8))
    assert cache.source_digest(source) != before
