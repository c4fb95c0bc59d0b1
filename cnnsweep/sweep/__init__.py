"""The Optuna sweep behind ``python -m cnnsweep --multirun +sweep=NAME``.

``settings`` checks ``hydra.sweeper.*`` once (``schema`` registers its config
groups, ``space`` turns Hydra sweep syntax into Optuna distributions),
``storage`` and ``study`` open and keep the study, ``launch`` runs one trial as
a Hydra job, ``workers`` decides where worker loops run, ``records`` writes
``trials.csv`` and ``optimization_results.yaml``, ``outputs`` prints progress
and writes them and the report as the sweep runs, and ``runner`` holds the
coordinator's and the worker's loop. The Hydra plugin class itself lives in
``hydra_plugins/cnnsweep_sweeper`` and stays light.
"""

import sys as _sys
import types as _types
from pathlib import Path as _Path


class _SweepPackage(_types.ModuleType):
    """``cnnsweep.sweep`` is this package and, called, the notebook API's :func:`cnnsweep.api.sweep`:
    once any module of the package is imported, Python binds the name ``cnnsweep.sweep`` to the
    package, so the package itself answers the call."""

    def __call__(self, *overrides: str, sweep_dir: str | _Path | None = None, resume: bool = False) -> object:
        from cnnsweep.api import sweep

        return sweep(*overrides, sweep_dir=sweep_dir, resume=resume)


_sys.modules[__name__].__class__ = _SweepPackage
