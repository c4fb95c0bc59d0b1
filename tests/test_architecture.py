import math
import time

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from cnnsweep.architecture import conv_output_size, plan_architecture, pool_output_size
from cnnsweep.errors import ConfigError, Infeasible
from tests.helpers import compose_config


def model_config(**overrides):
    base = compose_config("model=cnn")["model"]
    base.update(overrides)
    return base


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "padding", "expected"),
    [
        (28, 2, 1, "valid", 27),
        (28, 3, 2, "valid", 13),
        (28, 3, 2, "same", 14),
        (8, 9, 1, "valid", 0),
        (8, 9, 1, "same", 8),
        (5, 5, 1, "valid", 1),
    ],
)
def test_conv_output_size(size, kernel, stride, padding, expected):
    assert conv_output_size(size, kernel, stride, padding) == expected


def test_pool_output_size():
    assert pool_output_size(27, 2) == 13
    assert pool_output_size(2, 3) == 0


def test_seed_plan_matches_the_lessons_listing():
    plan = plan_architecture(compose_config("model=seed")["model"], (28, 28, 1), 10)
    assert [layer.kind for layer in plan.layers] == ["Conv2D", "MaxPooling2D", "Flatten", "Dense"]
    assert [layer.output_shape for layer in plan.layers] == [(27, 27, 128), (13, 13, 128), (21632,), (10,)]
    assert plan.params_count == 2 * 2 * 1 * 128 + 128 + 21632 * 10 + 10


def test_plan_is_fast():
    cfg = model_config(conv_blocks=3, convs_per_block=2, batch_norm=True)
    started = time.perf_counter()
    for _ in range(100):
        plan_architecture(cfg, (32, 32, 3), 10)
    assert (time.perf_counter() - started) / 100 < 0.005


def test_kernel_that_does_not_fit_names_block_and_size():
    cfg = model_config(conv_blocks=3, kernel_size=5, padding="valid", pool_size=2)
    with pytest.raises(Infeasible) as err:
        plan_architecture(cfg, (28, 28, 1), 10)
    message = str(err.value)
    assert "model.kernel_size=5" in message
    assert "before block 3 conv 1 the feature map is 4x4" in message
    assert "padding=same" in message


def test_a_kernel_larger_than_the_image_is_refused_even_with_same_padding():
    with pytest.raises(Infeasible) as err:
        plan_architecture(model_config(kernel_size=40, padding="same"), (8, 8, 1), 10)
    assert str(err.value).startswith("model.kernel_size=40 is larger than the 8x8 images")
    assert "Use model.kernel_size=8 or less" in str(err.value)
    plan_architecture(model_config(kernel_size=8, padding="same", conv_blocks=1), (8, 8, 1), 10)


def test_pool_larger_than_map():
    with pytest.raises(Infeasible, match=r"model.pool_size=9 .* 8x8"):
        plan_architecture(model_config(pool_size=9, conv_blocks=1), (8, 8, 1), 10)


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("filters", 0, "model.filters=0 must be a positive integer"),
        ("kernel_size", -1, "model.kernel_size=-1 must be a positive integer"),
        ("strides", 0, "model.strides=0 must be a positive integer"),
        ("pool_size", 0, "model.pool_size=0 must be a positive integer"),
        ("conv_blocks", 0, "model.conv_blocks=0"),
        ("dense_units", -4, "model.dense_units=-4 must be an integer >= 0"),
        ("padding", "full", "model.padding='full' is not a padding mode"),
        ("dropout", 1.0, "model.dropout=1.0 must be in [0, 1)"),
        ("activation", "relux", "model.activation='relux' is not supported"),
        ("global_pool", "yes", "model.global_pool='yes' must be true or false"),
        ("residual", 1, "model.residual=1 must be true or false"),
    ],
)
def test_bad_model_values(key, value, fragment):
    with pytest.raises(ConfigError) as err:
        plan_architecture(model_config(**{key: value}), (28, 28, 1), 10)
    assert fragment in str(err.value)


model_configs = st.fixed_dictionaries(
    {
        "conv_blocks": st.integers(1, 3),
        "convs_per_block": st.integers(1, 2),
        "filters": st.integers(1, 6),
        "filter_growth": st.sampled_from([1.0, 1.5, 2.0]),
        "kernel_size": st.integers(1, 6),
        "strides": st.integers(1, 3),
        "padding": st.sampled_from(["valid", "same"]),
        "batch_norm": st.booleans(),
        "pool_size": st.integers(1, 3),
        "dense_units": st.sampled_from([0, 5]),
        "dropout": st.sampled_from([0.0, 0.5]),
        "global_pool": st.booleans(),
        "residual": st.booleans(),
    }
)
input_shapes = st.sampled_from([(8, 8, 1), (28, 28, 1), (32, 32, 3), (13, 9, 2)])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(overrides=model_configs, input_shape=input_shapes)
def test_plan_matches_what_keras_builds(overrides, input_shape):
    """Every planned output shape and parameter count is what Keras itself computes."""
    from cnnsweep.model import build_model

    cfg = model_config(**overrides)
    try:
        plan = plan_architecture(cfg, input_shape, 10)
    except Infeasible:
        reject()  # not an example: only feasible draws count toward max_examples

    model = build_model(plan)
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]  # a graph's input
    assert len(layers) == len(plan.layers)
    for planned, built in zip(plan.layers, layers, strict=True):
        assert tuple(built.output.shape[1:]) == planned.output_shape, planned.name
        assert built.count_params() == planned.params, planned.name
    assert model.count_params() == plan.params_count
    # the lesson's quantities (trials.csv's columns), each recomputed from what Keras built
    (head,) = [layer for layer in layers if type(layer).__name__ in ("Flatten", "GlobalAveragePooling2D")]
    assert tuple(head.input.shape[1:]) == plan.flatten_shape
    assert head.output.shape[-1] == plan.flatten_values
    macs, field_, step, last = 0, 1, 1, 1
    for layer in layers:
        kind = type(layer).__name__
        if kind == "Conv2D" and layer.name.endswith("_shortcut"):  # a 1x1 side path: costs, sees no further
            macs += math.prod(layer.output.shape[1:]) * layer.kernel.shape[2]
            continue
        if kind == "Conv2D":
            kernel_h, kernel_w, channels_in, _ = layer.kernel.shape
            macs += math.prod(layer.output.shape[1:]) * kernel_h * kernel_w * channels_in
            window, stride = layer.kernel_size[0], layer.strides[0]
        elif kind == "Dense":
            macs += layer.kernel.shape[0] * layer.kernel.shape[1]
            continue
        elif kind == "MaxPooling2D":
            window, stride = layer.pool_size[0], layer.strides[0]
        else:
            continue
        field_ += (window - 1) * step
        step *= stride
        last = field_ if kind == "Conv2D" else last
    assert plan.macs_per_image == macs and plan.receptive_field == last


@settings(max_examples=15, deadline=None)
@given(kernel=st.integers(9, 12), size=st.integers(2, 8))
def test_keras_also_rejects_kernels_the_plan_rejects(kernel, size):
    from cnnsweep.backend import import_keras

    keras = import_keras()
    with pytest.raises(Infeasible):
        plan_architecture(
            model_config(kernel_size=kernel, padding="valid", conv_blocks=1), (size, size, 1), 10
        )
    with pytest.raises(ValueError):
        keras.Sequential([keras.Input((size, size, 1)), keras.layers.Conv2D(2, kernel, padding="valid")])


def test_global_pooling_feeds_the_dense_layer_one_value_per_filter():
    plan = plan_architecture(
        model_config(conv_blocks=2, filters=8, dense_units=16, global_pool=True), (28, 28, 1), 10
    )
    pooled = next(layer for layer in plan.layers if layer.kind == "GlobalAveragePooling2D")
    assert pooled.output_shape == (16,)  # the second block's 16 filters
    flat = plan_architecture(model_config(conv_blocks=2, filters=8, dense_units=16), (28, 28, 1), 10)
    assert flat.params_count - plan.params_count == (7 * 7 * 16 - 16) * 16


def test_batch_norm_statistics_follow_recent_batches():
    """A sweep judges a model after a few dozen steps: the built model's moving statistics
    must have caught up with the data by then (with Keras's default momentum, 0.99, 30
    steps would have moved them only a quarter of the way from their start)."""
    import numpy as np

    from cnnsweep.model import build_model

    plan = plan_architecture(model_config(conv_blocks=2, batch_norm=True), (28, 28, 1), 10)
    model = build_model(plan)
    norm = next(layer for layer in model.layers if type(layer).__name__ == "BatchNormalization")
    channels = norm.moving_mean.shape[0]
    batch = np.random.default_rng(0).normal(5.0, 1.0, size=(32, 14, 14, channels)).astype("float32")
    for _ in range(30):
        norm(batch, training=True)
    moved = np.asarray(norm.moving_mean) / batch.mean(axis=(0, 1, 2))
    assert moved.min() > 0.9, moved  # 1 - 0.9**30 = 0.96 of the way


def test_the_model_is_built_once_with_the_weights_a_layer_by_layer_build_draws(monkeypatch):
    """``build_model`` builds the graph once (``add`` after an ``Input`` rebuilds it for every
    layer, a cost each trial pays), and a seeded run starts from the very weights it drew
    when it added its layers one at a time: the same seed, the same run."""
    import keras
    import numpy as np

    from cnnsweep.model import build_model

    plan = plan_architecture(
        model_config(conv_blocks=2, convs_per_block=2, batch_norm=True, dropout=0.25), (28, 28, 1), 10
    )
    builds = []
    sequential_build = keras.Sequential.build
    monkeypatch.setattr(
        keras.Sequential, "build", lambda model, *a, **k: builds.append(1) or sequential_build(model, *a, **k)
    )
    keras.utils.set_random_seed(3)
    model = build_model(plan)
    assert len(builds) == 1 and len(model.layers) == len(plan.layers) > 8

    keras.utils.set_random_seed(3)
    one_by_one = keras.Sequential(name="one_by_one")
    one_by_one.add(keras.Input(shape=plan.input_shape))
    for layer in plan.layers:
        one_by_one.add(getattr(keras.layers, layer.kind)(name=layer.name, **layer.options))
    assert len(builds) == 1 + len(plan.layers)  # what the constructor saves
    ours, theirs = model.get_weights(), one_by_one.get_weights()
    assert len(ours) == len(theirs) > 0
    for mine, reference in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(mine, reference)
