"""The answer's statistics, as plain numbers (numpy, scipy, pandas): the
confirmation's repeated runs (:mod:`.repeats`) and each setting's effect (:mod:`.effects`).
Nothing here draws, trains or knows of a sweep's storage; the sweep and the report call in."""
