"""Helpers the tests share: the real config composed as the CLI does, and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pandas as pd
import pytest
import yaml
from optuna.trial import TrialState

from cnnsweep.config import compose

REPO = Path(__file__).resolve().parents[1]
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


IN_CI = os.environ.get("CI") == "true"


def requires(available: bool, install: str):
    """Skip a test whose system package is missing, except in CI (CI=true), where the
    test runs and fails: CI installs every package the suite needs."""
    return pytest.mark.skipif(not available and not IN_CI, reason=install)


def compose_config(*overrides: str) -> dict:
    """The real config from conf/, composed as the CLI would, as plain dicts."""
    return compose(*overrides)


def cli_env(extra: dict | None = None) -> dict:
    """The environment of a command run by a test: this one, offline, as from a user's
    shell (without the log level TensorFlow set when a test imported it here)."""
    inherited = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return {**inherited, "CNNSWEEP_OFFLINE": "1", **(extra or {})}


def run_cli(
    *args: str, cwd: Path, env: dict | None = None, timeout: float = 300, module: str = "cnnsweep"
) -> subprocess.CompletedProcess:
    """``python -m cnnsweep ARGS`` in ``cwd``, offline."""
    full_env = cli_env(env)
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# ---------------------------------------------------------------- sweeps on digits
FAST = [
    "dataset=digits",
    "dataset.train_limit=400",
    "dataset.test_limit=100",
    "trainer.quiet=true",
    "trainer.batch_size=32",
]


def sweep_args(sweep_dir: Path, *extra: str) -> list[str]:
    return ["--multirun", *FAST, f"hydra.sweep.dir={sweep_dir}", *extra]


def load_study(sweep_dir: Path, name: str) -> optuna.Study:
    """The study in a sweep dir's own storage; creates no file (a sweep may be starting).

    Raises:
        FileNotFoundError: the sweep has no storage file yet.
    """
    if (sweep_dir / "optuna.db").exists():
        storage = f"sqlite:///{sweep_dir / 'optuna.db'}"
    elif (sweep_dir / "optuna.journal").exists():
        from optuna.storages.journal import JournalFileBackend

        storage = optuna.storages.JournalStorage(JournalFileBackend(str(sweep_dir / "optuna.journal")))
    else:
        raise FileNotFoundError(f"{sweep_dir} has no optuna.db or optuna.journal yet")
    return optuna.load_study(study_name=name, storage=storage)


def assert_consistent(sweep_dir: Path, study: optuna.Study) -> pd.DataFrame:
    """Storage, trials.csv and the trial dirs tell the same story."""
    table = pd.read_csv(sweep_dir / "trials.csv")
    trials = {t.number: t for t in study.get_trials() if t.state != TrialState.WAITING}
    assert sorted(table["trial_number"]) == sorted(trials)
    for row in table.itertuples():
        trial = trials[row.trial_number]
        if row.state == "running":
            continue
        metrics_file = sweep_dir / str(row.trial_number) / "metrics.json"
        if row.error and str(row.error).startswith("interrupted"):
            assert trial.state == TrialState.FAIL
            continue
        metrics = json.loads(metrics_file.read_text())
        assert metrics["status"] == row.state
        assert metrics["trial_number"] == row.trial_number
        expected = {
            "complete": {TrialState.COMPLETE},
            "pruned": {TrialState.PRUNED},
            "failed": {TrialState.FAIL},
            "infeasible": {TrialState.PRUNED},
        }[row.state]
        assert trial.state in expected
        recorded = table[table.trial_number == row.trial_number].iloc[0]
        for key, value in trial.params.items():
            assert str(recorded[key]) == str(value), key
        if row.state in ("complete", "pruned"):
            trial_dir = sweep_dir / str(row.trial_number)
            history = pd.read_csv(trial_dir / "history.csv")
            assert len(history) == metrics["epochs_run"]
            assert (trial_dir / "curves.png").is_file()
            # Hydra's files are this trial's own (one config template serves every trial)
            job = yaml.safe_load((trial_dir / ".hydra" / "config.yaml").read_text())
            overrides = yaml.safe_load((trial_dir / ".hydra" / "overrides.yaml").read_text())
            hydra_job = yaml.safe_load((trial_dir / ".hydra" / "hydra.yaml").read_text())["hydra"]["job"]
            assert hydra_job["num"] == row.trial_number
            for key, value in trial.params.items():
                node = job
                for part in key.split("."):
                    node = node[part]
                assert node == (pytest.approx(value) if isinstance(value, float) else value), (
                    row.trial_number,
                    key,
                )
                assert any(o.partition("=")[0] == key for o in overrides), (row.trial_number, key)
        if row.state == "complete":
            assert (sweep_dir / str(row.trial_number) / "model.keras").is_file()
            assert metrics["objective"] == pytest.approx(trial.value)
    return table
