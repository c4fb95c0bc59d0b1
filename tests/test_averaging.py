"""trainer.average_epochs: the mean of the last epochs' weights, kept only where it validates
at least as well as the best epoch (a refit, with nothing to validate on, always keeps it)."""

import numpy as np
import pytest

from cnnsweep import run_files
from cnnsweep.callbacks import AverageWeights
from cnnsweep.scoring import predict_once, weigh_the_average
from cnnsweep.training import split_validation, train


class _Snapshots:
    """A model as AverageWeights sees it: each epoch's weights, a float matrix and a counter."""

    def __init__(self):
        self.epoch = 0

    def get_weights(self):
        self.epoch += 1
        return [np.full((2, 2), float(self.epoch), dtype="float32"), np.array(self.epoch, dtype="int64")]


def test_the_average_is_the_mean_of_the_last_epochs_and_a_counter_is_the_last():
    averager = AverageWeights(3)
    averager.set_model(_Snapshots())
    assert averager.window() is None
    for epoch in range(5):  # epochs 1..5; the last three are kept
        averager.on_epoch_end(epoch)
    assert averager.window() == (3, 5)
    matrix, counter = averager.average()
    np.testing.assert_array_equal(matrix, np.full((2, 2), 4.0))  # mean of 3, 4, 5
    assert matrix.dtype == np.float32 and counter == 5 and counter.dtype == np.int64


class _Threshold:
    """A classifier of one weight: class 1 for an image above the weight, else class 0."""

    class loss:  # noqa: N801 - read as model.loss.label_smoothing
        label_smoothing = 0.0

    def __init__(self, weight: float):
        self.weights = [np.array(weight)]

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.asarray(w) for w in weights]

    def __call__(self, images, training=False):
        above = (images.reshape(len(images), -1).mean(axis=1) > self.weights[0]).astype("float32")
        return np.stack([1 - above, above], axis=1) * 0.98 + 0.01


class _Average:
    def __init__(self, weight: float):
        self.weight = weight

    def window(self):
        return (4, 6)

    def average(self):
        return [np.array(self.weight)]


def _validation():
    images = np.linspace(0, 1, 10, dtype="float32").reshape(10, 1, 1, 1)
    return images, (images.ravel() > 0.45).astype("int64")  # the right threshold: 0.45


@pytest.mark.parametrize(("average", "kept"), [(0.45, True), (0.05, False)])
def test_the_average_replaces_the_best_epoch_only_where_it_validates_as_well(average, kept):
    model = _Threshold(0.25)  # the best epoch's weight: 8 of 10 right
    images, labels = _validation()
    best = float((predict_once(model, images, 4).argmax(axis=1) == labels).mean())
    metrics = {"objective_name": "val_acc", "direction": "maximize", "val_acc": best}
    objective = weigh_the_average(model, _Average(average), metrics, best, validation=(images, labels))
    averaged = metrics["averaged"]
    assert averaged["epochs"] == [4, 6] and averaged["kept"] is kept
    assert model.get_weights()[0] == (average if kept else 0.25)  # the other weights are given back
    assert averaged["val_acc"] == (1.0 if kept else 0.6)  # 0.05 takes four 0s for 1s
    assert objective == (1.0 if kept else best) and metrics["val_acc"] == objective


def test_a_refit_keeps_the_average_it_cannot_validate():
    model = _Threshold(0.25)
    metrics = {"objective_name": "val_acc", "direction": "maximize"}
    assert weigh_the_average(model, _Average(0.05), metrics, None, validation=None) is None
    assert metrics["averaged"] == {"epochs": [4, 6], "kept": True} and model.get_weights()[0] == 0.05


def test_a_run_saves_the_weights_it_scored_and_says_which(tiny_config, tmp_path):
    """A real run with trainer.average_epochs=2: the model it saves validates at exactly the
    val_acc its metrics.json states, whichever weights (the average or the best epoch) won."""
    from cnnsweep.callbacks import keras
    from cnnsweep.data.loader import load_dataset

    tiny_config["trainer"].update(epochs=3, average_epochs=2)
    metrics = train(tiny_config, tmp_path).metrics
    averaged = metrics["averaged"]
    assert averaged["epochs"] == [metrics["epochs_run"] - 1, metrics["epochs_run"]]
    history = run_files.read_history(tmp_path)
    best = history["val_acc"][metrics["best_epoch"] - 1]
    assert averaged["kept"] is (averaged["val_acc"] >= best - 1e-6)  # float32's precision
    assert metrics["val_acc"] == (averaged["val_acc"] if averaged["kept"] else best)
    data = load_dataset("digits", None, train_limit=400, test_limit=100)
    _, (x_val, y_val) = split_validation(data.x_train, data.y_train, 0.2)
    model = keras.models.load_model(tmp_path / run_files.MODEL_FILE, safe_mode=True)
    saved = float((model.predict(x_val, verbose=0).argmax(axis=1) == y_val).mean())
    assert saved == pytest.approx(metrics["val_acc"], abs=1e-6)  # Keras keeps its val_acc in float32


def test_an_average_as_good_as_the_best_epoch_is_kept_though_float32_read_it_higher():
    """The fit's val_acc is a float32 metric (8/10 reads 0.800000012), the average's a float64
    one (0.7): the same accuracy must count as validating as well, not as worse."""
    model = _Threshold(0.25)
    images, labels = _validation()
    same = float((predict_once(model, images, 4).argmax(axis=1) == labels).mean())
    as_float32 = float(np.float32(same) + np.float32(1e-7))  # a float32 metric a hair above
    assert as_float32 > same
    metrics = {"objective_name": "val_acc", "direction": "maximize"}
    weigh_the_average(model, _Average(0.25), metrics, as_float32, validation=(images, labels))
    assert metrics["averaged"]["kept"] is True
