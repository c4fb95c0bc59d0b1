"""Process set-up that must happen before TensorFlow/Keras is imported."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager


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


def import_keras():
    """Import Keras (and its backend) without the backend's start-up log lines.

    TensorFlow prints CUDA probing messages through absl before its own log level
    applies; they are hidden unless ``TF_CPP_MIN_LOG_LEVEL`` was set by the user.
    """
    if "keras" in sys.modules:
        return sys.modules["keras"]
    silence = "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    quiet_backend_logs()
    with _stderr_fd_silenced(silence):
        import keras
    return keras
