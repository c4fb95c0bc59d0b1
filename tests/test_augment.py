"""Augmentation in the input pipeline keeps shapes and labels, and is reproducible."""

from __future__ import annotations

import numpy as np


def _images(n=8, side=6):
    return np.arange(n * side * side, dtype=np.float32).reshape(n, side, side, 1) / (n * side * side)


def test_a_shift_moves_the_image_and_fills_with_zeros():
    from cnnsweep.augment import augment_batch

    images = _images()
    shifted = augment_batch(images, np.random.default_rng(0), max_shift=2, flip=False)
    assert shifted.shape == images.shape and shifted.dtype == images.dtype

    def translated(image, dy, dx):
        return np.roll(np.pad(image, ((2, 2), (2, 2), (0, 0))), (dy, dx), (0, 1))[2:-2, 2:-2]

    for original, moved in zip(images, shifted, strict=True):
        found = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if np.array_equal(translated(original, dy, dx), moved)
        ]
        assert found, "each image is its original, translated"


def test_a_flip_mirrors_left_to_right():
    from cnnsweep.augment import augment_batch

    images = _images(n=64)
    flipped = augment_batch(images, np.random.default_rng(1), max_shift=0, flip=True)
    mirrored = [np.array_equal(f, i[:, ::-1]) for f, i in zip(flipped, images, strict=True)]
    unchanged = [np.array_equal(f, i) for f, i in zip(flipped, images, strict=True)]
    assert all(m or u for m, u in zip(mirrored, unchanged, strict=True))
    assert 16 < sum(mirrored) < 48


def test_batches_keep_every_label_once_per_epoch_and_repeat_with_the_seed():
    from cnnsweep.augment import AugmentedBatches

    x = _images(n=50)
    y = np.eye(5, dtype=np.float32)[np.arange(50) % 5]
    batches = AugmentedBatches(x, y, 16, shift=0.2, flip=True, seed=3)
    assert len(batches) == 4
    labels = np.concatenate([batches[i][1] for i in range(len(batches))])
    assert labels.shape == y.shape and (labels.sum(axis=0) == y.sum(axis=0)).all()
    first = batches[0][0]
    assert first.shape == (16, 6, 6, 1)
    again = AugmentedBatches(x, y, 16, shift=0.2, flip=True, seed=3)
    assert np.array_equal(again[0][0], first)
    batches.on_epoch_end()
    assert not np.array_equal(batches[0][0], first)  # a new order and new shifts each epoch


def test_digits_are_never_flipped_and_fashion_is(tiny_config):
    from cnnsweep.data.catalog import get_spec

    assert not get_spec("digits").mirrors and not get_spec("mnist").mirrors
    assert get_spec("fashion_mnist").mirrors and get_spec("cifar10").mirrors


def test_training_with_augmentation_on_tiny_data(tiny_config, tmp_path):
    from cnnsweep.training import train

    tiny_config["trainer"]["augment"] = {"shift": 0.15, "flip": True, "cutout": 0.25}
    result = train(tiny_config, tmp_path)
    assert result.status == "complete" and result.metrics["epochs_run"] == 2


def _shifts_and_flips(image, max_shift):
    """Every image the augmentation may make of ``image``: mirrored or not, then translated."""
    for mirrored in (image, image[:, ::-1]):
        padded = np.pad(mirrored, ((max_shift, max_shift), (max_shift, max_shift), (0, 0)))
        for dy in range(-max_shift, max_shift + 1):
            for dx in range(-max_shift, max_shift + 1):
                yield np.roll(padded, (dy, dx), (0, 1))[max_shift:-max_shift, max_shift:-max_shift]


def _epochs(seed, n_epochs=2, shift=0.34, flip=True, cutout=0.0, images=None):
    from cnnsweep.augment import augmented_dataset

    images = _images() if images is None else images
    labels = np.eye(len(images), dtype=np.float32)
    dataset = augmented_dataset(images, labels, 4, shift=shift, flip=flip, seed=seed, cutout=cutout)
    return [[(x.numpy(), y.numpy()) for x, y in dataset] for _ in range(n_epochs)]


def test_the_tf_data_pipeline_shifts_and_flips_each_image_and_keeps_its_label():
    images = _images()
    batches = _epochs(0, n_epochs=1)[0]
    assert [x.shape for x, _ in batches] == [(4, 6, 6, 1), (4, 6, 6, 1)]
    seen = []
    for x, y in batches:
        for image, label in zip(x, y, strict=True):
            original = images[int(label.argmax())]  # the label still names the image it came from
            assert any(np.array_equal(image, v) for v in _shifts_and_flips(original, 2))
            seen.append(int(label.argmax()))
    assert sorted(seen) == list(range(8))  # an epoch is every image once, shuffled


def test_the_tf_data_pipeline_is_reproducible_and_draws_anew_every_epoch():
    first, again, other = _epochs(0), _epochs(0), _epochs(1)
    flat = lambda epochs: [x for epoch in epochs for batch in epoch for x in batch]  # noqa: E731
    assert all(np.array_equal(a, b) for a, b in zip(flat(first), flat(again), strict=True))
    epoch_1, epoch_2 = ([x for x, _ in epoch] for epoch in first)
    assert not all(np.array_equal(a, b) for a, b in zip(epoch_1, epoch_2, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(flat(first), flat(other), strict=True))


def _assert_one_square_cut(image, size):
    """``image`` (of ones) has exactly one zeroed rectangle: a size x size square, clipped
    at the borders to no less than half of it each way."""
    rows, cols = np.nonzero(image[..., 0] == 0)
    assert len(rows), "every image has its cut"
    height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
    assert len(rows) == height * width, "the zeros form one rectangle"
    assert size // 2 <= height <= size and size // 2 <= width <= size


def test_cutout_zeroes_one_square_of_each_image_anywhere_in_it():
    from cnnsweep.augment import augment_batch

    images = np.ones((200, 12, 12, 1), dtype=np.float32)
    cut = augment_batch(images, np.random.default_rng(0), max_shift=0, flip=False, cutout=4)
    assert cut.shape == images.shape and cut.dtype == images.dtype
    for image in cut:
        _assert_one_square_cut(image, 4)
    whole = sum(int((image == 0).sum()) == 16 for image in cut)
    assert 50 < whole < 200  # most squares fall inside, some are clipped at a border
    corners = {tuple(int(axis.min()) for axis in np.nonzero(image[..., 0] == 0)) for image in cut}
    assert len(corners) > 40  # centred anywhere, not in one place


def test_the_tf_data_pipeline_cuts_a_square_of_each_image_reproducibly():
    images = np.ones((8, 12, 12, 1), dtype=np.float32)
    first = _epochs(0, shift=0.0, flip=False, cutout=0.34, images=images)  # 4 of 12 pixels
    for epoch in first:
        for x, _ in epoch:
            for image in x:
                _assert_one_square_cut(image, 4)
    again = _epochs(0, shift=0.0, flip=False, cutout=0.34, images=images)
    flat = lambda epochs: [x for epoch in epochs for x, _ in epoch]  # noqa: E731
    assert all(np.array_equal(a, b) for a, b in zip(flat(first), flat(again), strict=True))
    epoch_1, epoch_2 = ([x for x, _ in epoch] for epoch in first)
    assert not all(np.array_equal(a, b) for a, b in zip(epoch_1, epoch_2, strict=True))  # new cuts
