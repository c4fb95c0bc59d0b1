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
        "dataset=digits", "dataset.train_limit=400", "dataset.test_limit=100",
        "model.filters=8", "model.dense_units=16", "trainer.epochs=2",
        "trainer.batch_size=32", "trainer.quiet=true",
    )
