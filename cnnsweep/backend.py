"""The Keras backend of this process: which one, a quiet import, and process-level fixes.

The backend is fixed when Keras is first imported, so everything here runs
before that or guards it. This is also the one module that touches
TensorFlow's private names (see :func:`released_graph_gradients`).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("cnnsweep")


def quiet_backend_logs() -> None:
    """Silence TensorFlow's C++ start-up chatter unless the user asked for it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


@contextmanager
def _stderr_fd_silenced(enabled: bool):
    """Send file descriptor 2 to /dev/null (C++ logs bypass Python's sys.stderr)."""
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def select_backend(name: str | None) -> None:
    """Make Keras use backend ``name`` (None: keep $KERAS_BACKEND, else TensorFlow).

    The backend is fixed when Keras is first imported, so this must run before;
    a process that already runs another backend cannot switch.
    """
    from cnnsweep.errors import ConfigError

    if name is None:
        return
    if "keras" in sys.modules:
        current = sys.modules["keras"].backend.backend()
        if current != name:
            raise ConfigError(
                f"trainer.backend={name}, but this process already runs Keras on "
                f"{current}. Run it in a new process, or set KERAS_BACKEND={name}.",
                key="trainer.backend",
            )
        return
    import importlib.util

    if importlib.util.find_spec(name) is None:
        raise ConfigError(
            f"trainer.backend={name} needs the {name} package: pip install {name}.", key="trainer.backend"
        )
    os.environ["KERAS_BACKEND"] = name


def import_keras():
    """Import Keras (and its backend) without the backend's start-up log lines.

    TensorFlow prints CUDA probing messages through absl before its own log level
    applies (even at ``TF_CPP_MIN_LOG_LEVEL=3``); they are hidden unless the user
    set ``TF_CPP_MIN_LOG_LEVEL`` below 3 to see backend logs.
    """
    if "keras" in sys.modules:
        return sys.modules["keras"]
    silence = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3").strip() in ("3", "")
    quiet_backend_logs()
    with _stderr_fd_silenced(silence):
        import keras
    return keras


def resident_memory_mb() -> float | None:
    """This process's resident memory now (Linux), for spotting leaks across trials."""
    try:
        pages = int(open("/proc/self/statm").read().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


@contextmanager
def released_graph_gradients() -> Iterator[None]:
    """Forget the gradient functions TensorFlow registered while tracing one run.

    Every ``model.fit`` traces a train step whose distribution-strategy all-reduce
    registers a custom gradient in a process-wide registry that is never pruned;
    each entry keeps the run's whole traced graph alive (about 5 MB a trial for
    the seed model). The entries added inside this block belong to graphs that
    are dead once the run ends, so they are dropped then.
    """
    registry = _gradient_registry()
    before = set(registry) if registry is not None else set()
    try:
        yield
    finally:
        if registry is not None:
            for name in [n for n in registry if n not in before and n.startswith("CustomGradient-")]:
                registry.pop(name, None)


def _gradient_registry() -> dict | None:
    """TensorFlow's registry of gradient functions, or None when TensorFlow does not train here.

    A private name: TensorFlow has no public way to unregister a gradient. If a
    release moves it, this warns (memory then grows per trial again) and
    ``tests/test_backend.py`` fails.
    """
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow" or "tensorflow" not in sys.modules:
        return None
    from tensorflow.python.framework import ops

    registry = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
    if not isinstance(registry, dict):
        global _warned_no_registry
        if not _warned_no_registry:
            _warned_no_registry = True
            log.warning(
                "TensorFlow's gradient registry was not found: each trial's traced graph "
                "stays in memory (about 5 MB a trial). Please report this TensorFlow version."
            )
        return None
    return registry


_warned_no_registry = False
