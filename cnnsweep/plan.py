"""The layer plan: every layer of a CNN with its output shape and parameter count, and the
lesson's quantities read off them (the map Flatten sees, the receptive field, the
multiply-adds). Pure data, without Keras: :mod:`cnnsweep.architecture` lays a plan out from
the model config, :mod:`cnnsweep.model` builds the Keras model it describes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Shape = tuple[int, ...]

# The name a layer plan gives the model's input when a layer reads it directly (a shortcut).
INPUT = "input"


@dataclass(frozen=True)
class LayerPlan:
    """One Keras layer: its class name, constructor arguments and output shape.

    ``inputs`` names the layers it reads when that is not just the layer before it: a
    residual block's shortcut reads the block's input, its ``Add`` both paths."""

    name: str
    kind: str
    output_shape: Shape
    params: int
    options: Mapping[str, Any] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()

    @property
    def shortcut(self) -> bool:
        """A residual block's 1x1 projection: a side path, not a step of the main one."""
        return self.name.endswith("_shortcut")


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

    @property
    def is_graph(self) -> bool:
        """Whether some layer reads more than the layer before it (a residual block), so the
        model is a Keras functional graph rather than a Sequential stack."""
        return any(layer.inputs for layer in self.layers)

    def sources(self) -> list[tuple[LayerPlan, tuple[str, ...]]]:
        """Each layer with the names of the layers it reads (:data:`INPUT` for the images)."""
        previous, wired = INPUT, []
        for layer in self.layers:
            wired.append((layer, layer.inputs or (previous,)))
            previous = layer.name
        return wired

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
            if layer.shortcut:  # a 1x1 side path: the main path's convolutions see further
                continue
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
        total, shapes = 0, {INPUT: self.input_shape}
        for layer, (source, *_) in self.sources():
            if layer.kind == "Conv2D":
                kernel = int(layer.options["kernel_size"])
                total += math.prod(layer.output_shape) * kernel * kernel * shapes[source][-1]
            elif layer.kind == "Dense":
                total += math.prod(shapes[source]) * layer.output_shape[0]
            shapes[layer.name] = layer.output_shape
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
        """A layer table like Keras's ``model.summary()``; a layer that reads more than the one
        before it (a residual block's shortcut and join) says what it reads, as Keras's
        "Connected to" column does."""
        rows = [f"{'layer':<22}{'type':<20}{'output shape':<18}{'params':>10}"]
        rows.append(f"{'input':<22}{'Input':<20}{_fmt(self.input_shape):<18}{0:>10,}")
        for layer in self.layers:
            reads = f"  <- {' + '.join(layer.inputs)}" if layer.inputs else ""
            rows.append(
                f"{layer.name:<22}{layer.kind:<20}{_fmt(layer.output_shape):<18}{layer.params:>10,}{reads}"
            )
        rows.append(f"{'total':<60}{self.params_count:>10,}")
        return "\n".join(rows)


def _fmt(shape: Shape) -> str:
    return "x".join(str(s) for s in shape)
