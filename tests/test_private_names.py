"""Other libraries' private names: each used in one module only, where no public API exists.

The tests beside each of those modules (tests/test_backend.py, tests/sweep/test_storage.py,
tests/test_recipe.py)
fail if a library release removes the name; this one keeps new uses from spreading.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cnnsweep"
PRIVATE_NAMES = {
    r"hydra\._internal": "sweep/launch.py",
    r"optuna\.storages\._": "sweep/study/storage.py",
    r"\._storage\b": "sweep/study/storage.py",
    r"\._trial_id\b": "sweep/study/storage.py",
    r"\._study_id\b": "sweep/study/storage.py",
    r"\._get_stale_trial_ids\b": "sweep/study/storage.py",
    r"\._thread_local\b": "sweep/study/lifecycle.py",
    r"\._stop_flag\b": "sweep/study/lifecycle.py",
    r"_gradient_registry\b": "backend.py",
    r"\._apply_weight_decay\b": "recipe.py",
    r"\._use_weight_decay\b": "recipe.py",
    r"\._get_current_learning_rate\b": "recipe.py",
    r"\b_flush_loggers\b": "sweep/hydra_job.py",
    r"\._return_value\b": None,  # Hydra's JobReturn has a public return_value
}


@pytest.mark.parametrize(("pattern", "home"), PRIVATE_NAMES.items())
def test_each_private_name_lives_in_one_module(pattern, home):
    users = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if re.search(pattern, path.read_text())
    )
    assert users == ([home] if home else []), f"{pattern} is used in {users}"
