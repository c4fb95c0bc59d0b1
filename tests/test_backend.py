"""The backend module: TensorFlow's private gradient registry is still where we reach for it."""

from __future__ import annotations

import pytest

from cnnsweep import backend
from cnnsweep.errors import ConfigError


def test_tensorflow_gradient_registry_is_still_where_the_leak_fix_reaches_for_it():
    """If TensorFlow moves its private registry, the per-trial memory fix would silently stop:
    this fails loudly instead."""
    backend.import_keras()
    registry = backend._gradient_registry()
    assert isinstance(registry, dict), "tensorflow.python.framework.ops._gradient_registry moved"


def test_released_graph_gradients_drops_only_what_the_block_added():
    backend.import_keras()
    registry = backend._gradient_registry()
    registry["CustomGradient-cnnsweep-before"] = object()
    try:
        with backend.released_graph_gradients():
            registry["CustomGradient-cnnsweep-inside"] = object()
            registry["NotACustomGradient-cnnsweep"] = object()
        assert "CustomGradient-cnnsweep-inside" not in registry
        assert "CustomGradient-cnnsweep-before" in registry
        assert "NotACustomGradient-cnnsweep" in registry
    finally:
        for name in ("CustomGradient-cnnsweep-before", "NotACustomGradient-cnnsweep"):
            registry.pop(name, None)


def test_a_process_cannot_switch_backends_once_keras_runs():
    keras = backend.import_keras()
    current = keras.backend.backend()
    backend.select_backend(current)  # the same one: fine
    other = "jax" if current != "jax" else "tensorflow"
    with pytest.raises(ConfigError, match=f"already runs Keras on {current}") as err:
        backend.select_backend(other)
    assert err.value.key == "trainer.backend"


def test_resident_memory_is_measured():
    memory = backend.resident_memory_mb()
    assert memory is not None and memory > 10
