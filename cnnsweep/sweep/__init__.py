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
