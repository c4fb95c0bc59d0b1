"""Plan a CNN from its config: every layer's output shape and parameter count.

The plan is pure arithmetic, computed in microseconds and without Keras, so a
config that cannot be built fails before anything is loaded or trained. The model
builder (:mod:`cnnsweep.model`) turns the same plan into Keras layers, so the
plan and the model cannot disagree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cnnsweep.config import ACTIVATIONS, PADDINGS
from cnnsweep.errors import ConfigError, Infeasible
from cnnsweep.numbers import is_whole

Shape = tuple[int, ...]

# BatchNormalization's moving statistics follow the last ~10 batches (Keras's default, 0.99,
# follows ~100): a sweep judges models after a few dozen steps, and with the slower default
# their validation accuracy is still that of the first batches' statistics, near chance.
BN_MOMENTUM = 0.9


@dataclass(frozen=True)
class LayerPlan:
    """One Keras layer: its class name, constructor arguments and output shape."""

    name: str
    kind: str
    output_shape: Shape
    params: int
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ArchitecturePlan:
    input_shape: Shape
    layers: tuple[LayerPlan, ...]

    @property
    def params_count(self) -> int:
        return sum(layer.params for layer in self.layers)

    def training_memory_bytes(self, batch_size: int) -> int:
        """A lower bound on what one training step holds, from the shapes alone.

        Every layer's activations for a batch are kept for the backward pass and
        get a gradient of the same size (float32); the weights have a gradient and
        Adam's two moments. The backend's own workspace comes on top.
        """
        values = math.prod(self.input_shape) + sum(math.prod(layer.output_shape) for layer in self.layers)
        return 4 * (2 * batch_size * values + 4 * self.params_count)

    @property
    def output_shape(self) -> Shape:
        return self.layers[-1].output_shape

    # ------------------------------------------------------------ the lesson's quantities
    @property
    def flatten_shape(self) -> Shape:
        """The feature maps that reach Flatten (or the global pooling): ``(height, width, filters)``."""
        shape = self.input_shape
        for layer in self.layers:
            if layer.kind in ("Flatten", "GlobalAveragePooling2D"):
                return shape
            shape = layer.output_shape
        return shape

    @property
    def flatten_values(self) -> int:
        """How many numbers the Dense head reads per image: height x width x filters at Flatten
        (filters alone after global pooling)."""
        for layer in self.layers:
            if layer.kind in ("Flatten", "GlobalAveragePooling2D"):
                return layer.output_shape[0]
        return math.prod(self.output_shape)

    @property
    def block_sides(self) -> tuple[int, ...]:
        """The feature map's side (its height) at the end of each conv block."""
        sides: list[int] = []
        for index, layer in enumerate(self.layers):
            following = self.layers[index + 1].name if index + 1 < len(self.layers) else ""
            if layer.name.startswith("block") and not following.startswith(layer.name.split("_")[0] + "_"):
                sides.append(layer.output_shape[0])
        return tuple(sides)

    @property
    def receptive_field(self) -> int:
        """The side of the input window one unit of the last convolution sees: each kernel widens
        it by (kernel - 1) input steps, each stride and pooling multiplies the step."""
        field_, step, last = 1, 1, 1
        for layer in self.layers:
            if layer.kind == "Conv2D":
                kernel, stride = int(layer.options["kernel_size"]), int(layer.options["strides"])
            elif layer.kind == "MaxPooling2D":
                kernel = stride = int(layer.options["pool_size"])
            else:
                continue
            field_ += (kernel - 1) * step
            step *= stride
            if layer.kind == "Conv2D":
                last = field_
        return last

    @property
    def macs_per_image(self) -> int:
        """Multiply-adds of one image's forward pass through the convolutions and Dense layers
        (each output value of a Conv2D costs kernel x kernel x input channels)."""
        total, channels = 0, self.input_shape[-1]
        inputs = math.prod(self.input_shape)
        for layer in self.layers:
            if layer.kind == "Conv2D":
                kernel = int(layer.options["kernel_size"])
                total += math.prod(layer.output_shape) * kernel * kernel * channels
            elif layer.kind == "Dense":
                total += inputs * layer.output_shape[0]
            inputs = math.prod(layer.output_shape)
            channels = layer.output_shape[-1]
        return total

    def lesson_quantities(self) -> dict[str, int]:
        """What ``metrics.json`` and ``trials.csv`` record of the plan, in the lesson's terms."""
        return {
            "flatten_side": int(self.flatten_shape[0]),
            "flatten_values": self.flatten_values,
            "receptive_field": self.receptive_field,
            "macs_per_image": self.macs_per_image,
        }

    def summary(self) -> str:
        """A layer table like Keras's ``model.summary()``."""
        rows = [f"{'layer':<22}{'type':<20}{'output shape':<18}{'params':>10}"]
        rows.append(f"{'input':<22}{'Input':<20}{_fmt(self.input_shape):<18}{0:>10,}")
        for layer in self.layers:
            rows.append(f"{layer.name:<22}{layer.kind:<20}{_fmt(layer.output_shape):<18}{layer.params:>10,}")
        rows.append(f"{'total':<60}{self.params_count:>10,}")
        return "\n".join(rows)


def _fmt(shape: Shape) -> str:
    return "x".join(str(s) for s in shape)


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
    for block in range(1, model["conv_blocks"] + 1):
        filters = max(1, round(model["filters"] * float(model["filter_growth"]) ** (block - 1)))
        for conv in range(1, model["convs_per_block"] + 1):
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
                "activation": None if model["batch_norm"] else activation,
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
                layers.append(
                    LayerPlan(
                        f"block{block}_act{conv}",
                        "Activation",
                        (height, width, channels),
                        0,
                        {"activation": activation},
                    )
                )
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
