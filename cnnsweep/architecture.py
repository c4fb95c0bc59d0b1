"""Plan a CNN from its config: every layer's output shape and parameter count.

The plan (:mod:`cnnsweep.plan`) is pure arithmetic, computed in microseconds and without
Keras, so a config that cannot be built fails before anything is loaded or trained. The
model builder (:mod:`cnnsweep.model`) turns the same plan into Keras layers, so the plan
and the model cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cnnsweep.config import ACTIVATIONS, PADDINGS
from cnnsweep.errors import ConfigError, Infeasible
from cnnsweep.numbers import is_whole
from cnnsweep.plan import INPUT, ArchitecturePlan, LayerPlan, Shape

# BatchNormalization's moving statistics follow the last ~10 batches (Keras's default, 0.99,
# follows ~100): a sweep judges models after a few dozen steps, and with the slower default
# their validation accuracy is still that of the first batches' statistics, near chance.
BN_MOMENTUM = 0.9


def conv_output_size(size: int, kernel: int, stride: int, padding: str) -> int:
    """Side of a Conv2D output, as Keras computes it (0 when the kernel does not fit)."""
    if padding == "same":
        return -(-size // stride)  # ceil(size / stride)
    if size < kernel:
        return 0
    return (size - kernel) // stride + 1


def pool_output_size(size: int, pool: int) -> int:
    """Side of a MaxPooling2D output with stride = pool and valid padding."""
    if size < pool:
        return 0
    return (size - pool) // pool + 1


def _require_int(model: Mapping[str, Any], key: str, minimum: int, hint: str) -> int:
    value = model[key]
    if not is_whole(value, minimum):
        rule = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ConfigError(f"model.{key}={value!r} must be {rule}. {hint}", key=f"model.{key}")
    return value


def check_model_values(model: Mapping[str, Any]) -> None:
    """Reject values no architecture can use, naming the key and the fix."""
    _require_int(model, "conv_blocks", 1, "Use model.conv_blocks=1 or more.")
    _require_int(model, "convs_per_block", 1, "Use model.convs_per_block=1 or more.")
    _require_int(model, "filters", 1, "Use e.g. model.filters=32.")
    _require_int(model, "kernel_size", 1, "Use e.g. model.kernel_size=3.")
    _require_int(model, "strides", 1, "Use model.strides=1 (or 2 to halve the map).")
    _require_int(model, "pool_size", 1, "Use model.pool_size=2, or 1 for no pooling.")
    _require_int(model, "dense_units", 0, "Use model.dense_units=0 for no hidden layer.")
    if model["padding"] not in PADDINGS:
        raise ConfigError(
            f"model.padding={model['padding']!r} is not a padding mode. "
            "Use model.padding=valid (shrinks the map) or model.padding=same (keeps it).",
            key="model.padding",
        )
    if model["activation"] not in ACTIVATIONS:
        raise ConfigError(
            f"model.activation={model['activation']!r} is not supported. "
            f"Use one of: {', '.join(ACTIVATIONS)}.",
            key="model.activation",
        )
    if not 0.0 <= float(model["dropout"]) < 1.0:
        raise ConfigError(
            f"model.dropout={model['dropout']!r} must be in [0, 1). Use e.g. model.dropout=0.25.",
            key="model.dropout",
        )
    if not isinstance(model["global_pool"], bool):
        raise ConfigError(
            f"model.global_pool={model['global_pool']!r} must be true or false: true averages each last "
            "feature map to one value (GlobalAveragePooling2D), false flattens them (the lesson's Flatten).",
            key="model.global_pool",
        )
    if not isinstance(model["residual"], bool):
        raise ConfigError(
            f"model.residual={model['residual']!r} must be true or false: true adds each conv block's "
            "input to its output (a residual block), false stacks the layers as the lesson does.",
            key="model.residual",
        )
    if float(model["filter_growth"]) <= 0:
        raise ConfigError(
            f"model.filter_growth={model['filter_growth']!r} must be positive. "
            "Use 1.0 to keep the filters constant, 2.0 to double them per block.",
            key="model.filter_growth",
        )


def plan_architecture(model: Mapping[str, Any], input_shape: Shape, num_classes: int) -> ArchitecturePlan:
    """Lay out the CNN that ``model`` describes for images of ``input_shape``.

    Args:
        model: the ``model`` config node (or any mapping with its keys).
        input_shape: ``(height, width, channels)`` of one image.
        num_classes: units of the softmax head.

    Returns:
        The plan: every layer with its output shape and parameter count.

    Raises:
        ConfigError: a value no architecture can use (zero filters, unknown padding).
        Infeasible: the values are fine but do not fit this input
            (the feature map shrinks below the kernel or the pool window).
    """
    check_model_values(model)
    height, width, channels = input_shape
    kernel, stride, padding = model["kernel_size"], model["strides"], model["padding"]
    pool = model["pool_size"]
    activation = model["activation"]
    layers: list[LayerPlan] = []

    if padding == "same" and kernel > max(height, width):  # a kernel of mostly padding
        raise Infeasible(
            f"model.kernel_size={kernel} is larger than the {height}x{width} images: with "
            f"padding=same most of each kernel would only ever see padding. Use "
            f"model.kernel_size={max(height, width)} or less.",
            key="model.kernel_size",
        )
    residual = model["residual"]
    if residual and padding != "same" and kernel > 1:
        raise Infeasible(
            f"model.residual=true adds each block's input to its output, so the map must keep its "
            f"size, but padding={padding} shrinks it by kernel_size-1={kernel - 1} per convolution. "
            "Use model.padding=same or model.residual=false.",
            key="model.residual",
        )
    for block in range(1, model["conv_blocks"] + 1):
        filters = max(1, round(model["filters"] * float(model["filter_growth"]) ** (block - 1)))
        block_input, block_channels = (layers[-1].name if layers else INPUT), channels
        for conv in range(1, model["convs_per_block"] + 1):
            joins = residual and conv == model["convs_per_block"]  # activated after the shortcut joins
            conv_stride = stride if conv == 1 else 1
            new_h = conv_output_size(height, kernel, conv_stride, padding)
            new_w = conv_output_size(width, kernel, conv_stride, padding)
            if new_h == 0 or new_w == 0:
                where = f"before block {block} conv {conv} the feature map is" if layers else "the input is"
                raise Infeasible(
                    f"model.kernel_size={kernel} does not fit: {where} {height}x{width} "
                    f"(padding={padding}). Use model.padding=same, a smaller kernel_size "
                    "or fewer conv_blocks.",
                    key="model.kernel_size",
                )
            conv_params = kernel * kernel * channels * filters + filters
            height, width, channels = new_h, new_w, filters
            name = f"block{block}_conv{conv}"
            options = {
                "filters": filters,
                "kernel_size": kernel,
                "strides": conv_stride,
                "padding": padding,
                "activation": None if model["batch_norm"] or joins else activation,
            }
            layers.append(LayerPlan(name, "Conv2D", (height, width, channels), conv_params, options))
            if model["batch_norm"]:
                layers.append(
                    LayerPlan(
                        f"block{block}_bn{conv}",
                        "BatchNormalization",
                        (height, width, channels),
                        4 * channels,
                        {"momentum": BN_MOMENTUM},
                    )
                )
                if not joins:
                    layers.append(
                        LayerPlan(
                            f"block{block}_act{conv}",
                            "Activation",
                            (height, width, channels),
                            0,
                            {"activation": activation},
                        )
                    )
        if residual:
            activated = LayerPlan(
                f"block{block}_act{model['convs_per_block']}",
                "Activation",
                (height, width, channels),
                0,
                {"activation": activation},
            )
            layers.extend(_join(block, block_input, block_channels, layers[-1], stride, activated))
        if pool > 1:
            new_h, new_w = pool_output_size(height, pool), pool_output_size(width, pool)
            if new_h == 0 or new_w == 0:
                raise Infeasible(
                    f"model.pool_size={pool} does not fit: in block {block} the feature map "
                    f"before pooling is {height}x{width}. Use a smaller pool_size, "
                    "model.padding=same, or fewer conv_blocks.",
                    key="model.pool_size",
                )
            height, width = new_h, new_w
            layers.append(
                LayerPlan(
                    f"block{block}_pool", "MaxPooling2D", (height, width, channels), 0, {"pool_size": pool}
                )
            )

    if model["global_pool"]:
        features = channels
        layers.append(LayerPlan("global_pool", "GlobalAveragePooling2D", (features,), 0))
    else:
        features = height * width * channels
        layers.append(LayerPlan("flatten", "Flatten", (features,), 0))
    if model["dense_units"] > 0:
        units = model["dense_units"]
        layers.append(
            LayerPlan(
                "dense",
                "Dense",
                (units,),
                features * units + units,
                {"units": units, "activation": activation},
            )
        )
        features = units
    if float(model["dropout"]) > 0:
        layers.append(LayerPlan("dropout", "Dropout", (features,), 0, {"rate": float(model["dropout"])}))
    layers.append(
        LayerPlan(
            "head",
            "Dense",
            (num_classes,),
            features * num_classes + num_classes,
            {"units": num_classes, "activation": "softmax"},
        )
    )
    return ArchitecturePlan(tuple(input_shape), tuple(layers))


def _join(
    block: int, block_input: str, input_channels: int, main: LayerPlan, stride: int, activated: LayerPlan
) -> list[LayerPlan]:
    """The end of a residual block: its input added to its last convolution's output, then
    ``activated``. Where the block changes the filters or strides, a 1x1 convolution (the
    projection) brings the input to the output's shape; otherwise the input is added as it is."""
    shape, joined, source = main.output_shape, [], block_input
    if stride != 1 or input_channels != shape[-1]:
        filters = shape[-1]
        source = f"block{block}_shortcut"
        options = {
            "filters": filters,
            "kernel_size": 1,
            "strides": stride,
            "padding": "same",
            "activation": None,
        }
        params = input_channels * filters + filters
        joined.append(LayerPlan(source, "Conv2D", shape, params, options, inputs=(block_input,)))
    joined.append(LayerPlan(f"block{block}_add", "Add", shape, 0, inputs=(main.name, source)))
    return [*joined, activated]
