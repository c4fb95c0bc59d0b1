"""Reports of finished (or running) sweeps.

    python -m cnnsweep.report multirun/2026-11-25/12-00-00 [more sweep dirs] [--out DIR]

``collect`` reads sweep dirs into plain records (a DataFrame of trials and each
trial's history), ``evaluate`` computes what needs data, Keras or Optuna (the
best model on the test split, importance, the Pareto front, the layer table),
and ``figures``, ``tables`` and ``html`` only draw what was collected and
computed; ``build`` puts them together.
"""
