"""The Optuna sweep behind ``python -m cnnsweep --multirun +sweep=NAME``.

Three wings and the loop over them (``docs/architecture.md`` names every module):
``settings/`` checks what the user asked once, into frozen objects; ``study/`` keeps
the study as the stored truth and writes its records; ``workers/`` decides where
worker loops run and tells each worker what it needs. ``runner`` holds the
coordinator and the worker, two functions from ``run_sweep`` on; ``launch`` runs
one trial as a Hydra job; ``confirm``, ``ablation`` and ``refit`` run after the
search, within what ``budget`` keeps back; ``progress`` prints and writes as the
sweep goes. The Hydra plugin class lives in ``hydra_plugins/cnnsweep_sweeper``
and stays light.
"""
