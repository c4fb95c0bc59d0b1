import gzip
import pickle

import numpy as np
import pytest

from cnnsweep.data.loader import load_dataset, read_idx, write_idx
from cnnsweep.errors import ConfigError, DataError
from tests.datafiles import (
    write_cifar_dir,
    write_cifar_tar,
    write_mnist_idx,
    write_mnist_npz,
)
from tests.helpers import FASHION_DIR


def test_idx_round_trip(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for name in ("a-idx3-ubyte", "b-idx3-ubyte.gz"):
        write_idx(tmp_path / name, images)
        np.testing.assert_array_equal(read_idx(tmp_path / name), images)


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_from_idx_dir(tmp_path, gz):
    write_mnist_idx(tmp_path / "m", gz=gz)
    data = load_dataset("mnist", str(tmp_path / "m"))
    assert data.x_train.shape == (60, 28, 28, 1)
    assert data.x_test.shape == (20, 28, 28, 1)
    assert data.x_train.dtype == np.float32
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
    assert data.y_train.dtype == np.int64 and data.y_train.max() < 10


def test_fashion_from_npz_file(tmp_path):
    path = write_mnist_npz(tmp_path / "fashion.npz")
    data = load_dataset("fashion_mnist", str(path))
    assert data.x_train.shape == (60, 28, 28, 1)
    assert data.source == str(path)


def test_cifar_from_batches_dir_and_tarball(tmp_path):
    from_dir = load_dataset("cifar10", str(write_cifar_dir(tmp_path / "d")))
    from_tar = load_dataset("cifar10", str(write_cifar_tar(tmp_path / "t" / "c.tar.gz")))
    for data in (from_dir, from_tar):
        assert data.x_train.shape == (40, 32, 32, 3)
        assert data.x_test.shape == (8, 32, 32, 3)
    np.testing.assert_array_equal(from_dir.x_train, from_tar.x_train)


def test_cifar_channels_are_reordered_to_last(tmp_path):
    directory = write_cifar_dir(tmp_path)
    raw = pickle.loads((directory / "data_batch_1").read_bytes(), encoding="bytes")
    first = raw[b"data"][0].reshape(3, 32, 32)
    data = load_dataset("cifar10", str(directory))
    np.testing.assert_allclose(data.x_train[0, :, :, 0], first[0] / 255.0, rtol=1e-6)
    np.testing.assert_allclose(data.x_train[0, :, :, 2], first[2] / 255.0, rtol=1e-6)


def test_cifar_pickle_with_code_is_refused(tmp_path):
    directory = write_cifar_dir(tmp_path)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (directory / "test_batch").write_bytes(pickle.dumps({b"data": Evil()}))
    with pytest.raises(DataError, match="test_batch is not a CIFAR-10 python batch"):
        load_dataset("cifar10", str(directory))


def test_digits_is_offline_and_fixed():
    data = load_dataset("digits")
    assert data.x_train.shape == (1437, 8, 8, 1)
    assert data.x_test.shape == (360, 8, 8, 1)
    again = load_dataset("digits")
    assert again.x_train is data.x_train  # cached per process


def test_limits_take_the_first_images():
    data = load_dataset("digits", train_limit=50, test_limit=7)
    full = load_dataset("digits")
    assert len(data.x_train) == 50 and len(data.x_test) == 7
    np.testing.assert_array_equal(data.y_train, full.y_train[:50])


def test_local_copies_are_found_in_the_data_dir(tmp_path, monkeypatch):
    write_mnist_idx(tmp_path / "fashion-mnist")
    monkeypatch.setenv("CNNSWEEP_DATA_DIR", str(tmp_path))
    assert load_dataset("fashion_mnist").source == str(tmp_path / "fashion-mnist")


def test_keras_cache_is_searched(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    write_mnist_npz(tmp_path / "datasets" / "mnist.npz")
    assert load_dataset("mnist").source == str(tmp_path / "datasets" / "mnist.npz")


def test_not_found_offline_lists_what_was_tried(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNSWEEP_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError) as err:
        load_dataset("cifar10")
    message = str(err.value)
    assert "dataset cifar10 was not found" in message
    assert str(tmp_path / "cifar-10-batches-py") in message
    assert "CNNSWEEP_OFFLINE" in message and "dataset.path" in message


def test_unknown_dataset_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="mnist, fashion_mnist, cifar10, digits"):
        load_dataset("imagenet")


def test_truncated_idx(tmp_path):
    directory = write_mnist_idx(tmp_path / "m", gz=False)
    path = directory / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="truncated or corrupt: its header promises 47040 bytes"):
        load_dataset("mnist", str(directory))


def test_corrupt_gzip(tmp_path):
    directory = write_mnist_idx(tmp_path / "m")
    path = directory / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:15])
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz cannot be read as IDX data"):
        load_dataset("mnist", str(directory))


def test_not_an_idx_file(tmp_path):
    directory = write_mnist_idx(tmp_path / "m")
    with gzip.open(directory / "train-labels-idx1-ubyte.gz", "wb") as f:
        f.write(b"<html>not found</html>")
    with pytest.raises(DataError, match="bad magic number"):
        load_dataset("mnist", str(directory))


def test_label_count_must_match(tmp_path):
    directory = write_mnist_idx(tmp_path / "m")
    write_idx(directory / "train-labels-idx1-ubyte.gz", np.zeros(59, dtype=np.uint8))
    with pytest.raises(DataError, match="60 train images but 59 labels"):
        load_dataset("mnist", str(directory))


def test_wrong_image_shape(tmp_path):
    path = write_mnist_npz(tmp_path / "m.npz", x_train=np.zeros((60, 32, 32), np.uint8))
    with pytest.raises(DataError, match=r"train images have shape \(32, 32, 1\), but fashion_mnist"):
        load_dataset("fashion_mnist", str(path))


def test_labels_out_of_range(tmp_path):
    path = write_mnist_npz(tmp_path / "m.npz", y_test=np.full(20, 12, np.uint8))
    with pytest.raises(DataError, match="test labels span 12..12"):
        load_dataset("mnist", str(path))


def test_empty_split(tmp_path):
    path = write_mnist_npz(tmp_path / "m.npz", x_test=np.zeros((0, 28, 28), np.uint8),
                           y_test=np.zeros(0, np.uint8))
    with pytest.raises(DataError, match="test split is empty"):
        load_dataset("mnist", str(path))


def test_npz_missing_arrays_and_corrupt_npz(tmp_path):
    np.savez(tmp_path / "a.npz", images=np.zeros(3))
    with pytest.raises(DataError, match="lacks the arrays x_train, y_train, x_test, y_test"):
        load_dataset("mnist", str(tmp_path / "a.npz"))
    (tmp_path / "b.npz").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(DataError, match="cannot be read as a .npz archive"):
        load_dataset("mnist", str(tmp_path / "b.npz"))


def test_wrong_format_for_dataset(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="is not a mnist source"):
        load_dataset("mnist", str(tmp_path / "notes.txt"))
    with pytest.raises(DataError, match="is not a CIFAR-10 source"):
        load_dataset("cifar10", str(tmp_path / "notes.txt"))
    with pytest.raises(DataError, match="holds no mnist files"):
        load_dataset("mnist", str(tmp_path))


def test_truncated_cifar_tarball(tmp_path):
    path = write_cifar_tar(tmp_path / "c.tar.gz")
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(DataError, match="c.tar.gz"):
        load_dataset("cifar10", str(path))


def test_cifar_missing_batch(tmp_path):
    directory = write_cifar_dir(tmp_path)
    (directory / "data_batch_3").unlink()
    with pytest.raises(DataError, match="lacks the CIFAR-10 batch data_batch_3"):
        load_dataset("cifar10", str(directory))


@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="apt-get install dataset-fashion-mnist")
def test_real_fashion_mnist_from_the_debian_package():
    data = load_dataset("fashion_mnist")
    assert data.source == str(FASHION_DIR)
    assert data.x_train.shape == (60000, 28, 28, 1) and data.x_test.shape == (10000, 28, 28, 1)
    assert np.bincount(data.y_test).tolist() == [1000] * 10


def test_decoded_arrays_are_cached_on_disk_by_content(tmp_path, monkeypatch):
    from cnnsweep import data as data_module

    cache = tmp_path / "cache"
    monkeypatch.setenv("CNNSWEEP_CACHE_DIR", str(cache))
    source = write_mnist_idx(tmp_path / "m")
    first = load_dataset("mnist", str(source))
    entries = list(cache.iterdir())
    assert len(entries) == 1 and (entries[0] / "done").exists()
    data_module._load_cached.cache_clear()
    calls = []
    monkeypatch.setattr(data_module, "_read", lambda *a: calls.append(a))  # must not decode again
    again = load_dataset("mnist", str(source))
    assert calls == []
    np.testing.assert_array_equal(first.x_train, again.x_train)
    monkeypatch.undo()
    monkeypatch.setenv("CNNSWEEP_CACHE_DIR", str(cache))
    write_idx(source / "t10k-labels-idx1-ubyte.gz", np.zeros(20, dtype=np.uint8))  # new content
    data_module._load_cached.cache_clear()
    changed = load_dataset("mnist", str(source))
    assert len(list(cache.iterdir())) == 2 and changed.y_test.max() == 0
