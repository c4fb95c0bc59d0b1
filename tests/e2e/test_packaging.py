"""The wheel carries conf/ (and sweeps/) so an installed cnnsweep runs anywhere."""

import os
import subprocess
import sys
import zipfile

import pytest

from tests.helpers import REPO


@pytest.mark.slow
def test_wheel_carries_the_configs_and_runs_from_them(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(tmp_path / "dist"),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next((tmp_path / "dist").glob("cnnsweep-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "cnnsweep/__main__.py",
        "cnnsweep/conf/config.yaml",
        "cnnsweep/conf/dataset/digits.yaml",
        "cnnsweep/conf/model/seed.yaml",
        "cnnsweep/conf/trainer/default.yaml",
        "cnnsweep/sweeps/seed_cnn.yaml",
        "cnnsweep/sweeps/deep_cnn.yaml",
        "hydra_plugins/cnnsweep_sweeper/cnnsweep_sweeper.py",
    ):
        assert expected in names, expected

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site), "CNNSWEEP_OFFLINE": "1"}
    where = subprocess.run(
        [sys.executable, "-c", "import cnnsweep.paths as p; print(p.config_dir())"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.strip() == str(site / "cnnsweep" / "conf")
    # Composing the packaged config reaches cnnsweep's own validation.
    proc = subprocess.run(
        [sys.executable, "-m", "cnnsweep", "dataset=digits", "model.filters=0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "model.filters=0 must be a positive integer" in proc.stderr
    # The sweeper plugin and the packaged sweep files are found from the wheel.
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cnnsweep",
            "--multirun",
            "+sweep=seed_cnn",
            "dataset=digits",
            "hydra.sweeper.n_trials=0",
            f"hydra.sweep.dir={tmp_path}/s",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "hydra.sweeper.n_trials=0 must be an integer >= 1" in proc.stderr
