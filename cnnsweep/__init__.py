"""cnnsweep: sweep the hyperparameters of Keras CNNs with Hydra and Optuna.

One training run::

    python -m cnnsweep dataset=fashion_mnist model=cnn trainer.epochs=2

or, from Python (a notebook)::

    import cnnsweep
    cnnsweep.compose("model=seed").summary()
    result = cnnsweep.sweep("+sweep=seed_cnn", "dataset=digits")

The package is light to import: the API (:mod:`cnnsweep.api`) loads on first use,
and TensorFlow/Keras never load in a process that only composes, starts runs and
reads their results.
"""

import types as _types
from pathlib import Path as _Path
from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "compose", "train", "sweep", "load"]


class _SweepPackage(_types.ModuleType):
    """``cnnsweep.sweep`` names the sweeper's package (Python binds a package's name to it once
    any of its modules is imported) and, called, the notebook API's :func:`cnnsweep.api.sweep`."""

    def __call__(self, *overrides: str, sweep_dir: str | _Path | None = None, resume: bool = False) -> Any:
        from cnnsweep.api import sweep as run_sweep

        return run_sweep(*overrides, sweep_dir=sweep_dir, resume=resume)


import cnnsweep.sweep as sweep  # noqa: E402  the package alone: its __init__ imports nothing

sweep.__class__ = _SweepPackage


def __getattr__(name: str) -> Any:
    if name in ("compose", "train", "sweep", "load", "Composed", "RunResult", "SweepResult", "CommandFailed"):
        from cnnsweep import api

        return getattr(api, name)
    raise AttributeError(f"module 'cnnsweep' has no attribute {name!r}")
