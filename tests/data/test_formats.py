"""The official formats: IDX, npz and CIFAR-10 batches, read right or refused clearly."""

import gzip
import pickle
import tarfile

import numpy as np
import pytest

from cnnsweep.data.formats import read_idx
from cnnsweep.data.loader import forget_loaded, load_dataset
from cnnsweep.errors import DataError
from tests.datafiles import write_cifar_dir, write_cifar_tar, write_idx, write_mnist_idx, write_mnist_npz


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


class _Payload:
    """Unpickled by a plain unpickler, this writes ``marker``: proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('ran')",))


def test_cifar_pickle_with_code_is_refused_and_the_code_never_runs(tmp_path):
    directory = write_cifar_dir(tmp_path / "data")
    marker = tmp_path / "payload-ran"
    (directory / "test_batch").write_bytes(pickle.dumps({b"data": _Payload(marker)}))
    pickle.loads(pickle.dumps(_Payload(tmp_path / "plain-unpickler-ran")))  # a plain one runs it
    assert (tmp_path / "plain-unpickler-ran").exists()
    with pytest.raises(DataError, match="test_batch is not a CIFAR-10 python batch"):
        load_dataset("cifar10", str(directory))
    assert not marker.exists()


def test_cifar_from_the_keras_download_is_read_by_the_array_only_reader(tmp_path, monkeypatch):
    """Keras's own cifar10.load_data unpickles with a plain unpickler: it is never called;
    the downloaded tarball is read like a local one."""
    import keras

    tarball = write_cifar_tar(tmp_path / "download" / "cifar-10-python.tar.gz")
    fetched = []

    def get_file(fname=None, origin=None, **kwargs):
        fetched.append((fname, origin))
        return str(tarball)

    def refuse():
        raise AssertionError("keras.datasets.cifar10.load_data must not be used")

    monkeypatch.setattr(keras.utils, "get_file", get_file)
    monkeypatch.setattr(keras.datasets.cifar10, "load_data", refuse)
    monkeypatch.delenv("CNNSWEEP_OFFLINE")
    forget_loaded()
    data = load_dataset("cifar10")
    assert fetched == [("cifar-10-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz")]
    assert data.source == "keras.datasets" and data.x_train.shape[1:] == (32, 32, 3)

    marker = tmp_path / "payload-ran"
    directory = write_cifar_dir(tmp_path / "evil")  # the same download, with code inside
    (directory / "test_batch").write_bytes(pickle.dumps({b"data": _Payload(marker)}))
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(directory, arcname="cifar-10-batches-py")
    forget_loaded()
    monkeypatch.setenv("CNNSWEEP_CACHE_DIR", str(tmp_path / "fresh-cache"))
    with pytest.raises(DataError, match="test_batch is not a CIFAR-10 python batch"):
        load_dataset("cifar10")
    assert not marker.exists()


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
