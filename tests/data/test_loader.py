"""Loading: where datasets are found, checks on their arrays, limits and the cache."""

import numpy as np
import pytest

from cnnsweep.data.loader import load_dataset
from cnnsweep.errors import ConfigError, DataError
from tests.datafiles import write_idx, write_mnist_idx, write_mnist_npz
from tests.helpers import FASHION_DIR, requires


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
    path = write_mnist_npz(
        tmp_path / "m.npz", x_test=np.zeros((0, 28, 28), np.uint8), y_test=np.zeros(0, np.uint8)
    )
    with pytest.raises(DataError, match="test split is empty"):
        load_dataset("mnist", str(path))


@requires(FASHION_DIR.is_dir(), "apt-get install dataset-fashion-mnist")
def test_real_fashion_mnist_from_the_debian_package():
    data = load_dataset("fashion_mnist")
    assert data.source == str(FASHION_DIR)
    assert data.x_train.shape == (60000, 28, 28, 1) and data.x_test.shape == (10000, 28, 28, 1)
    assert np.bincount(data.y_test).tolist() == [1000] * 10
