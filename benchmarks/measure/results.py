"""Where results go: the machine they were measured on, results.json and RESULTS.md."""

from __future__ import annotations

import json
import os
import platform
from datetime import datetime
from pathlib import Path


def machine() -> dict:
    import importlib.metadata as md

    def version(name: str) -> str | None:
        try:
            return md.version(name)
        except md.PackageNotFoundError:  # the GPU machine trains with JAX and has no TensorFlow
            return None

    versions = {name: version(name) for name in ("tensorflow", "jax", "keras", "optuna", "hydra-core")}
    return {
        "date": datetime.now().isoformat(timespec="minutes"),
        "cpu_cores": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "processor": cpu_name(),
        "commit": commit(),
        **versions,
    }


def commit() -> str | None:
    """The checkout the benchmark ran: its commit, ``+changes`` when its code differed from it
    (results.json and RESULTS.md, which the run itself rewrites, aside)."""
    import subprocess

    repo = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=10", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        changed = subprocess.run(
            [
                "git",
                "status",
                "--porcelain",
                "--",
                ".",
                ":!benchmarks/results.json",
                ":!benchmarks/RESULTS.md",
            ],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None  # not a git checkout (an unpacked copy on a device machine)
    return head + ("+changes" if changed else "")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def recorded(results_dir: Path) -> dict:
    """What ``results_dir``'s results.json holds ({} before the first run)."""
    store = results_dir / "results.json"
    return json.loads(store.read_text()) if store.exists() else {}


def write_results(results_dir: Path, updates: dict) -> Path:
    from benchmarks.report import render

    results_dir.mkdir(parents=True, exist_ok=True)
    store = results_dir / "results.json"
    data = recorded(results_dir)
    data.update(updates)
    store.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    target = results_dir / "RESULTS.md"
    target.write_text(render(json.loads(store.read_text())))  # what results.json holds, as it holds it
    return target
