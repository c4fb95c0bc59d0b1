"""Reports of finished (or running) sweeps.

    python -m cnnsweep.report multirun/2026-11-25/12-00-00 [more sweep dirs] [--out DIR]

``collect`` reads sweep dirs into plain records (a DataFrame of trials and each
trial's history); ``tables``, ``figures`` and ``html`` only draw what was
collected.
"""
