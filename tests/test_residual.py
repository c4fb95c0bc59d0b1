"""model.residual: each conv block adds its input to its output (a residual block), through a
1x1 convolution where the block changes the filters or the stride."""

import numpy as np
import pytest

from cnnsweep import run_files
from cnnsweep.analysis.shapes import describe_plan
from cnnsweep.architecture import plan_architecture
from cnnsweep.errors import Infeasible
from cnnsweep.plan import INPUT
from cnnsweep.training import split_validation, train
from tests.test_architecture import model_config


def _by_name(plan):
    return {layer.name: layer for layer in plan.layers}


def test_a_block_that_changes_the_filters_adds_its_input_through_a_projection():
    plan = plan_architecture(
        model_config(conv_blocks=2, convs_per_block=2, filters=8, filter_growth=1.0, residual=True),
        (28, 28, 1),
        10,
    )
    layers = _by_name(plan)
    # block 1 turns 1 channel into 8: a 1x1 convolution brings the images to 28x28x8
    projection = layers["block1_shortcut"]
    assert projection.inputs == (INPUT,) and projection.output_shape == (28, 28, 8)
    assert projection.options["kernel_size"] == 1 and projection.params == 1 * 8 + 8
    assert layers["block1_add"].inputs == ("block1_bn2", "block1_shortcut")
    # block 2 keeps 8 filters and the stride is 1: its input is added as it is
    assert "block2_shortcut" not in layers
    assert layers["block2_add"].inputs == ("block2_bn2", "block1_pool")
    # the block's last convolution is activated after the join, not before
    names = [layer.name for layer in plan.layers]
    assert names.index("block2_add") + 1 == names.index("block2_act2")
    assert "block2_act2" not in names[: names.index("block2_add")]
    # the side path neither widens what the last convolution sees nor is free
    plain = plan_architecture(
        model_config(conv_blocks=2, convs_per_block=2, filters=8, filter_growth=1.0), (28, 28, 1), 10
    )
    assert plan.receptive_field == plain.receptive_field
    assert plan.macs_per_image == plain.macs_per_image + 28 * 28 * 8 * 1
    assert plan.params_count == plain.params_count + 16
    table = plan.summary().splitlines()
    assert any(
        row.startswith("block1_add") and row.endswith("<- block1_bn2 + block1_shortcut") for row in table
    )
    assert any(row.startswith("block1_shortcut") and row.endswith("<- input") for row in table)
    assert "<-" not in plain.summary()
    assert "residual blocks" in describe_plan(plan, model_config(residual=True))
    assert "residual" not in describe_plan(plain, model_config())


def test_a_strided_block_projects_its_input_with_the_same_stride():
    plan = plan_architecture(
        model_config(conv_blocks=1, strides=2, filters=4, pool_size=1, residual=True), (9, 9, 3), 10
    )
    projection = _by_name(plan)["block1_shortcut"]
    assert projection.options["strides"] == 2 and projection.output_shape == (5, 5, 4)


def test_valid_padding_cannot_add_a_map_to_a_smaller_one():
    with pytest.raises(Infeasible) as err:
        plan_architecture(model_config(padding="valid", kernel_size=3, residual=True), (28, 28, 1), 10)
    assert err.value.key == "model.residual"
    assert "Use model.padding=same or model.residual=false" in str(err.value)
    # a 1x1 kernel keeps the map with either padding
    plan_architecture(model_config(padding="valid", kernel_size=1, residual=True), (28, 28, 1), 10)


def test_the_built_block_passes_its_input_through_when_its_convolutions_add_nothing():
    """The skip connection is real: with the block's last normalization scaled to zero, the
    block's output is its input, activated."""
    from cnnsweep.model import build_model

    plan = plan_architecture(
        model_config(conv_blocks=2, convs_per_block=2, filters=4, filter_growth=1.0, residual=True),
        (12, 12, 1),
        10,
    )
    model = build_model(plan)
    norm = model.get_layer("block2_bn2")
    norm.set_weights([np.zeros_like(w) if i < 2 else w for i, w in enumerate(norm.get_weights())])
    import keras

    probe = keras.Model(
        model.inputs, [model.get_layer("block1_pool").output, model.get_layer("block2_act2").output]
    )
    images = np.random.default_rng(0).normal(size=(3, 12, 12, 1)).astype("float32")
    block_input, block_output = probe.predict(images, verbose=0)
    np.testing.assert_allclose(block_output, np.maximum(block_input, 0), atol=1e-6)
    assert np.abs(block_input).max() > 0  # the check compared something


def test_a_residual_run_trains_saves_and_reloads(tiny_config, tmp_path):
    """A real run of a residual model: the model.keras it saves loads back (safe mode) as the
    graph it trained, and validates at the val_acc its metrics.json states."""
    from cnnsweep.callbacks import keras
    from cnnsweep.data.loader import load_dataset

    tiny_config["model"].update(residual=True, convs_per_block=2)
    metrics = train(tiny_config, tmp_path).metrics
    model = keras.models.load_model(tmp_path / run_files.MODEL_FILE, safe_mode=True)
    assert [layer.name for layer in model.layers if type(layer).__name__ == "Add"] == [
        "block1_add",
        "block2_add",
    ]
    assert model.count_params() == metrics["params_count"]
    data = load_dataset("digits", None, train_limit=400, test_limit=100)
    _, (x_val, y_val) = split_validation(data.x_train, data.y_train, 0.2)
    saved = float((model.predict(x_val, verbose=0).argmax(axis=1) == y_val).mean())
    assert saved == pytest.approx(metrics["val_acc"], abs=1e-6)
