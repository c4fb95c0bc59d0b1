"""Build and compile the Keras model that an :class:`ArchitecturePlan` describes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnnsweep.architecture import ArchitecturePlan

if TYPE_CHECKING:
    import keras


def build_model(plan: ArchitecturePlan, name: str = "cnn", precision: str = "float32") -> keras.Sequential:
    """A Sequential model with exactly the plan's layers, in order.

    With a mixed ``precision`` the layers compute in 16 bits, except the softmax
    head, which stays float32 for a stable loss.
    """
    import keras

    model = keras.Sequential(name=name)
    model.add(keras.Input(shape=plan.input_shape))
    for index, layer in enumerate(plan.layers):
        layer_class = getattr(keras.layers, layer.kind)
        head = index == len(plan.layers) - 1
        dtype = "float32" if head else keras.DTypePolicy(precision)
        model.add(layer_class(name=layer.name, dtype=dtype, **layer.options))
    return model


def compile_model(model: keras.Model, learning_rate: float, steps_per_execution: int = 1) -> None:
    """Adam on categorical cross-entropy, reporting accuracy as ``acc`` (as in the notes)."""
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="categorical_crossentropy",
        metrics=["acc"],
        steps_per_execution=steps_per_execution,
    )
