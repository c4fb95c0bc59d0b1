"""Helpers the tests share: the real config composed as the CLI does, and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cnnsweep.config import compose

REPO = Path(__file__).resolve().parents[1]
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


def compose_config(*overrides: str) -> dict:
    """The real config from conf/, composed as the CLI would, as plain dicts."""
    return compose(*overrides)


def run_cli(*args: str, cwd: Path, env: dict | None = None, timeout: float = 300,
            module: str = "cnnsweep") -> subprocess.CompletedProcess:
    """``python -m cnnsweep ARGS`` in ``cwd``, offline."""
    full_env = {**os.environ, "CNNSWEEP_OFFLINE": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=cwd, env=full_env,
        capture_output=True, text=True, timeout=timeout,
    )
