"""Benchmarks 9-11, each run on a tiny setting (see test_benchmarks.py)."""

import pytest

from tests.e2e.quick_benchmarks import check_quick


# Benchmarks 9-11, one case each (a file of its own, so both workers of make test-heavy share them).
@pytest.mark.slow
@pytest.mark.heavy
@pytest.mark.parametrize("which", ("levers", "tracking", "why"))
def test_each_runs_on_a_tiny_setting(tmp_path, which):
    check_quick(tmp_path, which)
