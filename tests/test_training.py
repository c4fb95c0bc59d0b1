import json
import math

import numpy as np
import pandas as pd
import pytest

from cnnsweep import run_files
from cnnsweep.callbacks import SizeToTime
from cnnsweep.errors import ConfigError, TrialError
from cnnsweep.hooks import TrialHooks
from cnnsweep.training import split_validation, train


def test_split_validation_takes_the_tail_like_keras():
    x = np.arange(10)
    (x_fit, _), (x_val, _) = split_validation(x, x, 0.2)
    assert x_fit.tolist() == list(range(8)) and x_val.tolist() == [8, 9]


def test_run_writes_every_artifact(tiny_config, tmp_path):
    result = train(tiny_config, tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics == result.metrics | {}  # what is returned is what is written
    for key in (
        "status",
        "objective",
        "objective_name",
        "best_epoch",
        "epochs_run",
        "val_acc",
        "val_loss",
        "test_acc",
        "test_loss",
        "params_count",
        "train_seconds",
        "images_per_second",
    ):
        assert key in metrics
    assert metrics["status"] == "complete" and metrics["backend"] == "tensorflow"
    assert metrics["objective_name"] == "val_acc"
    history = pd.read_csv(tmp_path / "history.csv")
    assert list(history.columns[:5]) == ["epoch", "loss", "acc", "val_loss", "val_acc"]
    assert len(history) == metrics["epochs_run"] == 2
    best = history.iloc[metrics["best_epoch"] - 1]
    assert math.isclose(metrics["objective"], best["val_acc"], rel_tol=1e-6)
    assert metrics["objective"] == pytest.approx(history["val_acc"].max())
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert metrics["train_images"] + metrics["val_images"] == 400
    assert metrics["test_images"] == 100
    assert 0.0 <= metrics["test_acc"] <= 1.0


def test_saved_model_is_the_best_epoch(tiny_config, tmp_path):
    """Scores the best epoch, not the last: the saved model reproduces the best val_acc."""
    from cnnsweep.callbacks import keras
    from cnnsweep.data.loader import load_dataset
    from cnnsweep.scoring import one_hot

    tiny_config["trainer"].update(epochs=6, learning_rate=0.05)  # noisy on purpose
    tiny_config["trainer"]["early_stopping"]["patience"] = 6
    result = train(tiny_config, tmp_path)
    model = keras.models.load_model(tmp_path / "model.keras", safe_mode=True)
    assert model.count_params() == result.metrics["params_count"]
    data = load_dataset("digits", train_limit=400)
    _, (x_val, y_val) = split_validation(data.x_train, data.y_train, 0.2)
    _, val_acc = model.evaluate(x_val, one_hot(y_val, 10), verbose=0)
    assert val_acc == pytest.approx(result.metrics["val_acc"], abs=1e-6)
    assert result.metrics["val_acc"] == pytest.approx(max(result.history["val_acc"]))


def test_a_run_keeps_its_test_predictions_and_scores_them_as_evaluate_would(tiny_config, tmp_path):
    """test_predictions.npy is the saved model's class for each test image; test_acc and
    test_loss are what Keras's evaluate reports for that model (the compiled loss included)."""
    from cnnsweep.callbacks import keras
    from cnnsweep.data.loader import load_dataset
    from cnnsweep.scoring import one_hot

    result = train(tiny_config, tmp_path)
    predicted = np.load(tmp_path / run_files.PREDICTIONS_FILE)
    data = load_dataset("digits", train_limit=400, test_limit=100)
    model = keras.models.load_model(tmp_path / "model.keras", safe_mode=True)
    assert predicted.tolist() == model.predict(data.x_test, verbose=0).argmax(axis=1).tolist()
    test_loss, test_acc = model.evaluate(data.x_test, one_hot(data.y_test, 10), verbose=0)
    assert result.metrics["test_acc"] == pytest.approx(test_acc, abs=1e-6)
    assert result.metrics["test_acc"] == pytest.approx(float((predicted == data.y_test).mean()))
    assert result.metrics["test_loss"] == pytest.approx(test_loss, rel=1e-4)


def test_mirrored_test_probabilities_average_each_image_and_its_mirror():
    from cnnsweep.scoring import class_probabilities

    class EdgeModel:  # says which edge of an image is brighter: a mirror swaps the answer
        def __call__(self, x, training=False):
            left, right = x[:, :, 0, 0].mean(axis=1), x[:, :, -1, 0].mean(axis=1)
            return np.stack([left, right], axis=1) / (left + right)[:, None]

    rng = np.random.default_rng(0)
    images = rng.random((20, 6, 6, 1)).astype("float32")
    plain = class_probabilities(EdgeModel(), images, 8, mirrored=False)
    both = class_probabilities(EdgeModel(), images, 8, mirrored=True)
    assert len(set(plain.argmax(axis=1).tolist())) == 2  # either edge wins somewhere
    np.testing.assert_allclose(both, 0.5, rtol=1e-6)  # each image and its mirror: one of each edge


def test_flip_test_scores_each_test_image_with_its_mirror(tmp_path):
    """trainer.flip_test: the test score averages the prediction of each image and of its
    mirror (for datasets whose classes survive a mirror); validation is untouched."""
    from cnnsweep.callbacks import keras
    from cnnsweep.data.loader import load_dataset
    from tests.datafiles import write_mnist_idx
    from tests.helpers import compose_config

    files = write_mnist_idx(tmp_path / "fashion", n_train=120, n_test=40)
    cfg = compose_config(
        "dataset=fashion_mnist",
        f"dataset.path={files}",
        "model.filters=4",
        "model.dense_units=8",
        "trainer.epochs=1",
        "trainer.quiet=true",
        "trainer.flip_test=true",
    )
    result = train(cfg, tmp_path / "run")
    data = load_dataset("fashion_mnist", str(files))
    model = keras.models.load_model(tmp_path / "run" / "model.keras", safe_mode=True)
    both = model.predict(data.x_test, verbose=0) + model.predict(data.x_test[:, :, ::-1], verbose=0)
    predicted = np.load(tmp_path / "run" / run_files.PREDICTIONS_FILE)
    assert predicted.tolist() == both.argmax(axis=1).tolist()
    assert result.metrics["test_acc"] == pytest.approx(float((predicted == data.y_test).mean()))


def test_same_seed_same_run(tiny_config, tmp_path):
    first = train(tiny_config, tmp_path / "a")
    second = train(tiny_config, tmp_path / "b")
    assert first.history["loss"] == pytest.approx(second.history["loss"], rel=1e-5)


def test_early_stopping_stops(tiny_config, tmp_path):
    tiny_config["trainer"].update(epochs=30)
    tiny_config["trainer"]["early_stopping"].update(patience=0, min_delta=0.5)
    result = train(tiny_config, tmp_path)
    assert result.metrics["epochs_run"] < 30


def test_nan_loss_is_recorded_as_failed(tiny_config, tmp_path):
    tiny_config["trainer"].update(learning_rate=1e12, epochs=3)
    tiny_config["model"].update(activation="elu")  # unbounded: Adam at 1e12 blows it up
    with pytest.raises(TrialError, match="NaN"):
        train(tiny_config, tmp_path)
    metrics = json.loads((tmp_path / run_files.METRICS_FILE).read_text())
    assert metrics["status"] == "failed"
    assert "trainer.learning_rate" in metrics["error"]
    assert not (tmp_path / run_files.MODEL_FILE).exists()


@pytest.mark.slow
def test_jax_backend_with_mixed_precision_and_steps_per_execution(tmp_path):
    """trainer.backend=jax trains in a fresh process; the model keeps a float32 head."""
    pytest.importorskip("jax")
    from cnnsweep.backend import import_keras
    from tests.helpers import run_cli

    run_dir = tmp_path / "run"
    proc = run_cli(
        "dataset=digits",
        "dataset.train_limit=300",
        "dataset.test_limit=60",
        "model=seed",
        "model.filters=8",
        "trainer.epochs=2",
        "trainer.batch_size=32",
        "trainer.backend=jax",
        "trainer.precision=mixed_bfloat16",
        "trainer.steps_per_execution=4",
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "complete" and metrics["backend"] == "jax"
    assert metrics["epochs_run"] == 2 and 0.0 <= metrics["test_acc"] <= 1.0
    model = import_keras().models.load_model(run_dir / "model.keras", safe_mode=True)
    assert model.layers[0].dtype_policy.name == "mixed_bfloat16"
    assert model.layers[-1].dtype_policy.name == "float32"


def test_a_refit_trains_on_every_training_image_for_the_stated_epochs(tiny_config, tmp_path):
    tiny_config["trainer"].update(refit_epochs=3, epochs=1)
    result = train(tiny_config, tmp_path)
    metrics = result.metrics
    assert result.status == "complete" and metrics["objective"] is None
    assert metrics["epochs_run"] == 3 and metrics["best_epoch"] == 3
    assert metrics["train_images"] == 400 and metrics["val_images"] == 0
    assert metrics["val_acc"] is None and 0.0 <= metrics["test_acc"] <= 1.0
    assert (tmp_path / run_files.MODEL_FILE).exists() and (tmp_path / run_files.CURVES_FILE).exists()


def test_a_time_sized_refit_plans_its_epochs_to_the_seconds_it_is_given(tiny_config, tmp_path, monkeypatch):
    # The plan reads a clock that moves 0.5 s each time it is read, not the machine's (whose
    # speed varies several times over): an epoch measures 0.5 s, an epoch and the gap before
    # the next 1 s, so 4 s hold 4 epochs, planned after the first and kept to.
    ticks = iter(range(1000))
    monkeypatch.setattr(SizeToTime, "clock", staticmethod(lambda: 0.5 * next(ticks)))
    tiny_config["trainer"].update(refit_epochs=1, refit_seconds=4.0, epochs=1)
    metrics = train(tiny_config, tmp_path).metrics
    assert metrics["status"] == "complete" and metrics["val_images"] == 0
    # Planned after measuring its epochs, and trained to the plan: more than the 1 it started from.
    assert metrics["epochs_run"] == metrics["epochs_planned"] == 4
    rates = pd.read_csv(tmp_path / run_files.HISTORY_FILE)["learning_rate"]
    assert rates.iloc[-1] < 0.05 * rates.max()  # the cosine schedule ended with the plan


def test_refit_seconds_refuses_a_schedule_it_cannot_size(tiny_config, tmp_path):
    tiny_config["trainer"].update(refit_seconds=4.0, lr_schedule="one_cycle")
    with pytest.raises(ConfigError, match="not one_cycle"):
        train(tiny_config, tmp_path)
    tiny_config["trainer"].update(refit_seconds=-1, lr_schedule="cosine")
    with pytest.raises(ConfigError, match="positive number of seconds"):
        train(tiny_config, tmp_path)


class _Listening(TrialHooks):
    """A sweep's hooks as the training sees them: a pruner that listens (the subset epochs
    themselves come with the config, as a sweep's fidelity writes them into a trial's)."""

    def __init__(self, prune_after=None):
        self.prune_after = prune_after
        self.reported: list[tuple[int, float]] = []

    @property
    def reports_epochs(self):
        return True

    def report_epoch(self, epoch, value, epochs_seen=None):
        self.reported.append((epoch, epochs_seen))
        return epoch == self.prune_after


def _spy_on_fit(monkeypatch):
    """Record how many images each real ``model.fit`` call trains on, and over which epochs."""
    import keras

    calls = []
    real_fit = keras.Model.fit

    def fit(self, x=None, y=None, **kwargs):
        if y is not None:  # arrays
            images = len(x)
        elif hasattr(x, "element_spec"):  # the tf.data pipeline of the TensorFlow backend
            images = sum(int(batch[0].shape[0]) for batch in x)
        else:  # a PyDataset
            images = sum(len(x[i][0]) for i in range(len(x)))
        calls.append((images, kwargs["initial_epoch"], kwargs["epochs"]))
        return real_fit(self, x, y, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", fit)
    return calls


@pytest.mark.parametrize("augment", [False, True])
def test_subset_epochs_train_on_the_stated_share_of_the_images(tiny_config, tmp_path, monkeypatch, augment):
    from omegaconf import OmegaConf

    shift = 0.1 if augment else 0.0
    cfg = OmegaConf.merge(
        tiny_config, {"trainer": {"epochs": 4, "augment": {"shift": shift}, "subset_epochs": [0.25, 0.5]}}
    )
    calls = _spy_on_fit(monkeypatch)
    hooks = _Listening()
    result = train(cfg, tmp_path, hooks=hooks)
    n_fit = result.metrics["train_images"]  # 400 images less the validation split
    assert calls == [(round(n_fit / 4), 0, 1), (round(n_fit / 2), 1, 2), (n_fit, 2, 4)]
    assert result.metrics["subset_epoch_images"] == [round(n_fit / 4), round(n_fit / 2)]
    assert result.metrics["val_images"] == 80  # validation always uses the whole split
    assert [epoch for epoch, _ in hooks.reported] == [1, 2, 3, 4] and result.metrics["epochs_run"] == 4
    seen = [epochs_seen for _, epochs_seen in hooks.reported]  # the pruner's resource, in epochs
    assert seen == pytest.approx([0.25, 0.75, 1.75, 2.75], abs=0.01)
    assert len(pd.read_csv(tmp_path / run_files.HISTORY_FILE)) == 4


def test_a_trial_pruned_in_a_subset_epoch_stops_there(tiny_config, tmp_path, monkeypatch):
    from omegaconf import OmegaConf

    cfg = OmegaConf.merge(tiny_config, {"trainer": {"epochs": 4, "subset_epochs": [0.25, 0.5]}})
    calls = _spy_on_fit(monkeypatch)
    result = train(cfg, tmp_path, hooks=_Listening(prune_after=1))
    assert result.status == "pruned" and len(calls) == 1
    assert result.metrics["epochs_run"] == 1 and result.metrics["best_epoch"] == 1


def test_the_schedule_spans_the_short_epochs_and_the_last_epoch_is_whole(tiny_config, tmp_path, monkeypatch):
    from omegaconf import OmegaConf

    cosine = {"epochs": 3, "lr_schedule": "cosine", "warmup_epochs": 0, "subset_epochs": [0.5, 0.5, 0.5]}
    cfg = OmegaConf.merge(tiny_config, {"trainer": cosine})
    calls = _spy_on_fit(monkeypatch)
    result = train(cfg, tmp_path, hooks=_Listening())  # a 3-epoch run keeps two of the shares
    assert [initial for _, initial, _ in calls] == [0, 1, 2]
    assert calls[-1][0] == result.metrics["train_images"]
    rates = pd.read_csv(tmp_path / run_files.HISTORY_FILE)["learning_rate"]
    assert rates.iloc[-1] < 0.05 * float(cfg.trainer.learning_rate)  # about zero by the end
    assert result.status == "complete"


def test_a_one_epoch_warm_up_ends_with_the_first_subset_epoch(tiny_config, tmp_path):
    from omegaconf import OmegaConf

    cosine = {"epochs": 4, "lr_schedule": "cosine", "warmup_epochs": 1.0, "subset_epochs": [0.25, 0.5]}
    cfg = OmegaConf.merge(tiny_config, {"trainer": cosine})
    train(cfg, tmp_path, hooks=_Listening())
    rates = pd.read_csv(tmp_path / run_files.HISTORY_FILE)["learning_rate"]
    peak = float(cfg.trainer.learning_rate)
    assert rates.iloc[0] == pytest.approx(peak, rel=0.02)  # judged after epoch 1 at the full rate
    assert rates.iloc[1] < peak


class _Trial(TrialHooks):
    """A sweep trial's hooks as far as TensorBoard's HParams see them."""

    @property
    def searched_values(self):
        return {"trial": 3, "model.filters": 8, "model.padding": "same"}


def test_tensorboard_writes_scalars_and_the_trials_hparams(tiny_config, tmp_path):
    from omegaconf import OmegaConf
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2
    from tensorboard.util.tensor_util import make_ndarray

    cfg = OmegaConf.merge(tiny_config, {"trainer": {"tensorboard": True}})
    result = train(cfg, tmp_path, hooks=_Trial())
    board = tmp_path / run_files.TENSORBOARD_DIR

    def scalars(folder):
        events = EventAccumulator(str(folder), size_guidance={"tensors": 0})
        events.Reload()
        return events

    train_events, val_events = scalars(board / "train"), scalars(board / "validation")
    assert {"epoch_loss", "epoch_acc", "epoch_learning_rate"} <= set(train_events.Tags()["tensors"])
    val_acc = [float(make_ndarray(e.tensor_proto)) for e in val_events.Tensors("epoch_acc")]
    history = pd.read_csv(tmp_path / run_files.HISTORY_FILE)
    assert val_acc == pytest.approx(history["val_acc"].tolist())  # the same numbers as history.csv

    session = scalars(board)
    content = session.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    hparams = start.session_start_info.hparams
    assert hparams["model.filters"].number_value == 8 and hparams["model.padding"].string_value == "same"
    objective = [float(make_ndarray(e.tensor_proto)) for e in session.Tensors("objective")]
    assert objective[-1] == pytest.approx(result.objective)


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_the_test_loss_is_the_compiled_loss_of_keras(smoothing):
    """scoring.cross_entropy, in NumPy, gives what the compiled CategoricalCrossentropy gives,
    label smoothing and probabilities at the clip's edges included."""
    from cnnsweep.callbacks import keras
    from cnnsweep.scoring import cross_entropy, one_hot

    rng = np.random.default_rng(3)
    probabilities = rng.dirichlet(np.full(10, 0.3), size=200).astype(np.float32)
    probabilities[:5] = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 5)]  # certain, maybe wrong
    labels = rng.integers(0, 10, 200)
    expected = keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)(
        one_hot(labels, 10), probabilities
    )
    assert cross_entropy(labels, probabilities, label_smoothing=smoothing) == pytest.approx(
        float(np.asarray(expected)), rel=1e-5
    )


def test_validation_batches_are_the_arrays_cut_in_order_and_score_as_the_arrays_do():
    """A fit validates on ``validation_batches``: the batches Keras would cut from the arrays,
    in order, so the validation metrics (and with them early stopping) are the arrays'."""
    from cnnsweep.callbacks import keras
    from cnnsweep.fitting import validation_batches
    from cnnsweep.scoring import one_hot

    rng = np.random.default_rng(5)
    x = rng.normal(size=(70, 8, 8, 1)).astype(np.float32)
    y = one_hot(rng.integers(0, 3, 70), 3)
    batches = list(validation_batches((x, y), 32))
    assert [len(images) for images, _ in batches] == [32, 32, 6]
    np.testing.assert_array_equal(np.concatenate([np.asarray(images) for images, _ in batches]), x)
    np.testing.assert_array_equal(np.concatenate([np.asarray(labels) for _, labels in batches]), y)
    assert validation_batches(None, 32) is None

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")]
    )
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["acc"])
    start = model.get_weights()
    histories = []
    for validation in ((x, y), validation_batches((x, y), 32)):
        model.set_weights(start)
        fit = model.fit(x, y, validation_data=validation, batch_size=32, epochs=2, shuffle=False, verbose=0)
        histories.append({key: fit.history[key] for key in ("val_acc", "val_loss")})
    assert histories[1] == {key: pytest.approx(values, abs=1e-6) for key, values in histories[0].items()}
