"""What is known about each dataset before any file is read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cnnsweep.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
DIGIT_CLASSES = tuple(str(d) for d in range(10))
CIFAR_DIR = "cifar-10-batches-py"


@dataclass(frozen=True)
class DatasetSpec:
    """What is known about a dataset before loading it."""

    name: str
    input_shape: tuple[int, int, int]
    class_names: tuple[str, ...]
    local_names: tuple[str, ...]  # folder / file names it is found under
    mirrors: bool = False  # a horizontally flipped image is still of its class (clothes, objects)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


SPECS = {
    "mnist": DatasetSpec("mnist", (28, 28, 1), DIGIT_CLASSES, ("mnist", "mnist.npz")),
    "fashion_mnist": DatasetSpec(
        "fashion_mnist",
        (28, 28, 1),
        FASHION_CLASSES,
        ("fashion-mnist", "fashion_mnist", "fashion-mnist.npz", "fashion_mnist.npz"),
        mirrors=True,
    ),
    "cifar10": DatasetSpec(
        "cifar10",
        (32, 32, 3),
        CIFAR10_CLASSES,
        (CIFAR_DIR, "cifar-10-python.tar.gz", "cifar10", "cifar-10"),
        mirrors=True,
    ),
    "digits": DatasetSpec("digits", (8, 8, 1), DIGIT_CLASSES, ()),
}


def get_spec(name: str) -> DatasetSpec:
    """The spec of dataset ``name``.

    Raises:
        ConfigError: no such dataset (the message lists the known ones).
    """
    try:
        return SPECS[name]
    except KeyError:
        raise ConfigError(
            f"dataset.name={name!r} is not a known dataset. Use dataset= one of: {', '.join(SPECS)}.",
            key="dataset.name",
        ) from None


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
            self.x_train[:train_limit],
            self.y_train[:train_limit],
            self.x_test[:test_limit],
            self.y_test[:test_limit],
            self.source,
        )
