"""Where cnnsweep's own config folders are: in the wheel, or in a checkout."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _bundled_or_checkout(name: str) -> Path:
    bundled = PACKAGE_DIR / name  # a wheel carries conf/ and sweeps/ inside the package
    return bundled if bundled.is_dir() else PACKAGE_DIR.parent / name


def config_dir() -> Path:
    """The folder holding ``config.yaml`` and the dataset/model/trainer groups."""
    return _bundled_or_checkout("conf")


def sweeps_dir() -> Path:
    """The folder holding the named search spaces (``+sweep=NAME``)."""
    return _bundled_or_checkout("sweeps")
