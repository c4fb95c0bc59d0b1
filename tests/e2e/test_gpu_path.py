"""Benchmark 8's whole path, tiny, on this machine's CPU: the JAX backend, no TensorFlow.

The GPU machine has JAX but no TensorFlow; here TensorFlow is installed, so the command
runs with it made unimportable (``sys.modules['tensorflow'] = None`` in a sitecustomize),
which any import of it anywhere in the benchmark, the sweep or its workers would hit.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _without_tensorflow(tmp_path: Path) -> dict:
    blocker = tmp_path / "no-tensorflow"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text("import sys\nsys.modules['tensorflow'] = None\n")
    return {**os.environ, "PYTHONPATH": str(blocker), "KERAS_BACKEND": "jax", "CNNSWEEP_OFFLINE": "1"}


@pytest.mark.slow
@pytest.mark.heavy
@pytest.mark.timed  # its JAX sweeps have half-minute budgets, on JAX's slow CPU path
def test_the_gpu_benchmark_runs_on_jax_without_tensorflow(tmp_path):
    command = [sys.executable, "-m", "benchmarks.run", "gpu", "--quick", "--results", str(tmp_path)]
    proc = subprocess.run(
        command, cwd=REPO, env=_without_tensorflow(tmp_path), capture_output=True, text=True, timeout=1200
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    gpu = json.loads((tmp_path / "results.json").read_text())["gpu"]
    assert gpu["backends"] == ["jax"]
    assert gpu["n_jobs=1"]["complete"] == 2 and gpu["n_jobs=2"]["complete"] == 2
    assert gpu["n_jobs=1"]["first_epoch_s"] > 0
    assert 0 <= gpu["quality"]["best_test_acc"] <= 1
    assert "8. On a GPU" in (tmp_path / "RESULTS.md").read_text()


def test_tensorflow_is_blocked_the_way_the_gpu_test_blocks_it(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", "import tensorflow"],
        env=_without_tensorflow(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0 and "import of tensorflow halted" in proc.stderr
