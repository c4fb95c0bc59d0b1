"""Benchmark 6: the default run on Fashion-MNIST, timed."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.measure.common import run_python


def defaults(workdir: Path, *extra: str, name: str = "defaults") -> dict:
    """One run with the default model and trainer on real Fashion-MNIST, timed end to end:
    ``python -m cnnsweep dataset=fashion_mnist``."""
    run_dir = workdir / name
    wall, proc = run_python(
        "-m",
        "cnnsweep",
        "dataset=fashion_mnist",
        "trainer.quiet=true",
        f"hydra.run.dir={run_dir}",
        *extra,
        cwd=workdir,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the default run failed: {proc.stderr[-2000:]}")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {
        "command_s": round(wall, 1),
        "train_seconds": metrics["train_seconds"],
        "epochs_run": metrics["epochs_run"],
        "best_epoch": metrics["best_epoch"],
        "val_acc": round(metrics["val_acc"], 4),
        "test_acc": round(metrics["test_acc"], 4),
        "params_count": metrics["params_count"],
        **({"averaged": metrics["averaged"]} if "averaged" in metrics else {}),  # trainer.average_epochs
    }
