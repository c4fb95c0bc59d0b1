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

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "compose", "train", "sweep", "load"]


def __getattr__(name: str) -> Any:
    if name in ("compose", "train", "sweep", "load", "Composed", "RunResult", "SweepResult", "CommandFailed"):
        from cnnsweep import api

        return getattr(api, name)
    raise AttributeError(f"module 'cnnsweep' has no attribute {name!r}")
