"""Benchmark 2: training throughput of one run, images per second."""

from __future__ import annotations

import json

from benchmarks.measure.common import REPO, run_python


def throughput(epochs: int, train_limit: int | None, rounds: int = 3) -> dict:
    """Images per second: cnnsweep's train() against the lesson's own model.fit, ``rounds``
    rounds taking turns."""
    _, proc = run_python(
        "-m", "benchmarks.throughput", str(epochs), str(train_limit or 0), str(rounds), cwd=REPO
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])
