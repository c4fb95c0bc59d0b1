"""In CI every skip must be one tests/conftest.py allows, a whole file skipped as it is
collected included (a module-level ``importorskip``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_a_file_skipped_at_collection_fails_ci(tmp_path):
    (tmp_path / "conftest.py").write_text(
        "from tests.conftest import (  # noqa: F401\n"
        "    pytest_collectreport, pytest_runtest_logreport, pytest_sessionfinish,\n)\n"
    )
    (tmp_path / "test_needs_a_missing_package.py").write_text(
        "import pytest\npytest.importorskip('no_such_package_for_cnnsweep')\n\n\ndef test_it():\n    pass\n"
    )
    (tmp_path / "test_plain.py").write_text("def test_it():\n    pass\n")
    env = {**os.environ, "CI": "true", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "NOT ALLOWED, skipped in CI: test_needs_a_missing_package.py" in proc.stdout
