"""The Optuna sweep behind ``python -m cnnsweep --multirun +sweep=NAME``.

``space`` turns Hydra sweep syntax into Optuna distributions, ``config`` holds
the sweeper's typed settings, ``runner`` asks, launches and tells, ``records``
writes ``trials.csv`` and ``optimization_results.yaml``. The Hydra plugin class
itself lives in ``hydra_plugins/cnnsweep_sweeper`` and stays light.
"""
