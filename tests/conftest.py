"""Fixtures: offline data and a tiny real config."""

from __future__ import annotations

import os

import pytest

from tests.helpers import compose_config

# Tests never touch the network: no Keras download, no user cache.
os.environ["CNNSWEEP_OFFLINE"] = "1"


@pytest.fixture(autouse=True)
def _isolated_data_dirs(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path_factory.mktemp("keras_home")))
    monkeypatch.setenv("CNNSWEEP_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("CNNSWEEP_DATA_DIR", raising=False)


@pytest.fixture
def tiny_config():
    """digits, a small CNN, two short epochs: trains in about a second."""
    return compose_config(
        "dataset=digits",
        "dataset.train_limit=400",
        "dataset.test_limit=100",
        "model.filters=8",
        "model.dense_units=16",
        "trainer.epochs=2",
        "trainer.batch_size=32",
        "trainer.quiet=true",
    )


# ---------------------------------------------------------------- no silent skips in CI
# In CI (CI=true, which .ci/run exports) every package the suite needs is installed, so a
# skipped test means a guarantee went unchecked: the run fails, unless the test is here,
# with the reason it may skip.
SKIP_ALLOWED = {
    "tests/e2e/test_samplers.py::test_gp_runs_a_sweep": (
        "the GP sampler needs PyTorch, which CI does not install (a large download; the "
        "test without it, test_gp_without_pytorch_says_how_to_install_it, runs)"
    )
}
_skipped: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped and report.when in ("setup", "call"):
        _skipped.append(report.nodeid)


def pytest_collectreport(report):
    """A whole file skipped as it is collected (a module-level ``importorskip``) counts too."""
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("CI") != "true":
        return
    unexpected = sorted(node for node in _skipped if node.split("[")[0] not in SKIP_ALLOWED)
    if unexpected:
        session.exitstatus = 1
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    reporter.write_sep("-", "skips allowed in CI (tests/conftest.py SKIP_ALLOWED)")
    for node, reason in SKIP_ALLOWED.items():
        reporter.write_line(f"{node}: {reason}")
    for node in unexpected:
        reporter.write_line(f"NOT ALLOWED, skipped in CI: {node}", red=True)
