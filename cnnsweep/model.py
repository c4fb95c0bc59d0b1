"""Build and compile the Keras model that an :class:`ArchitecturePlan` describes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnnsweep.architecture import ArchitecturePlan

if TYPE_CHECKING:
    import keras


def build_model(plan: ArchitecturePlan, name: str = "cnn") -> keras.Sequential:
    """A Sequential model with exactly the plan's layers, in order."""
    import keras

    model = keras.Sequential(name=name)
    model.add(keras.Input(shape=plan.input_shape))
    for layer in plan.layers:
        layer_class = getattr(keras.layers, layer.kind)
        model.add(layer_class(name=layer.name, **layer.options))
    return model


def compile_model(model: keras.Model, learning_rate: float) -> None:
    """Adam on categorical cross-entropy, reporting accuracy as ``acc`` (as in the notes)."""
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="categorical_crossentropy",
        metrics=["acc"],
    )
