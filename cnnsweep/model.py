"""Build and compile the Keras model that an :class:`ArchitecturePlan` describes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cnnsweep.plan import INPUT, ArchitecturePlan

if TYPE_CHECKING:
    import keras


def build_model(plan: ArchitecturePlan, name: str = "cnn", precision: str = "float32") -> keras.Model:
    """A model with exactly the plan's layers, in order: a Sequential stack, or a functional
    graph where a residual block's shortcut reads more than the layer before it.

    With a mixed ``precision`` the layers compute in 16 bits, except the softmax
    head, which stays float32 for a stable loss.

    The layers go to the constructor, which builds the model's graph once; ``add`` after
    an ``Input`` rebuilds it on every call, calling each layer added so far again (a
    4-layer model 10 layer calls instead of 4, a 12-layer one 78): time that every trial
    of a sweep pays. The weights are the same either way (the same seed draws them in the
    same order).
    """
    import keras

    layers = []
    for index, layer in enumerate(plan.layers):
        layer_class = getattr(keras.layers, layer.kind)
        head = index == len(plan.layers) - 1
        dtype = "float32" if head else keras.DTypePolicy(precision)
        layers.append(layer_class(name=layer.name, dtype=dtype, **layer.options))
    images = keras.Input(shape=plan.input_shape)
    if not plan.is_graph:
        return keras.Sequential([images, *layers], name=name)
    outputs = {INPUT: images}
    for built, (layer, sources) in zip(layers, plan.sources(), strict=True):
        read = [outputs[source] for source in sources]
        outputs[layer.name] = built(read if len(read) > 1 else read[0])
    return keras.Model(images, outputs[plan.layers[-1].name], name=name)


def compile_model(
    model: keras.Model,
    trainer: Mapping[str, Any],
    steps_per_epoch: int,
    epoch_steps: Sequence[int] | None = None,
) -> None:
    """The trainer's optimizer and loss (the lesson's: Adam on categorical cross-entropy),
    reporting accuracy as ``acc`` as the lesson does. ``epoch_steps`` are the run's steps per
    epoch when its epochs are not all ``steps_per_epoch`` long (a sweep's subset epochs)."""
    from cnnsweep import recipe

    model.compile(
        optimizer=recipe.optimizer(trainer, steps_per_epoch, epoch_steps),
        loss=recipe.loss(trainer),
        metrics=["acc"],
        steps_per_execution=int(trainer["steps_per_execution"]),
    )
