"""Sweep workers as SLURM jobs, on a real single-node SLURM cluster (``tests/slurm.py``):
the jobs' trials, a job cancelled mid-trial, Ctrl-C of the submitting command, a
PostgreSQL password kept out of every record, and the bad-input refusals."""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from optuna.trial import TrialState

from tests.helpers import assert_consistent, cli_env, load_study, requires, run_cli, sweep_args
from tests.slurm import slurm_available

pytestmark = [pytest.mark.slow, pytest.mark.heavy]
pytestmark.append(requires(slurm_available(), "needs root and apt-get install slurm-wlm munge"))

ON_SLURM = [
    "hydra/launcher=submitit_slurm",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.timeout_min=20",
    "hydra.sweeper.n_jobs=2",
]


@pytest.fixture(scope="module")
def cluster():
    from tests.slurm import throwaway_cluster

    with throwaway_cluster() as running:
        yield running


def _slurm_sweep(sweep_dir: Path, name: str, n_trials: int, *extra: str) -> list[str]:
    return sweep_args(
        sweep_dir,
        "model=seed",
        "trainer.epochs=3",
        "model.filters=choice(2,16)",
        "trainer.learning_rate=choice(0.00001,0.003)",
        "model.kernel_size=choice(2,3)",
        "hydra.sweeper.pruner.n_startup_trials=2",
        "hydra.sweeper.pruner.n_warmup_steps=0",
        f"hydra.sweeper.n_trials={n_trials}",
        f"hydra.sweeper.study_name={name}",
        *ON_SLURM,
        *extra,
    )


def _start(args: list[str], cwd: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cnnsweep", *args],
        cwd=cwd,
        env=cli_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _running_trial_of_a_job(sweep_dir: Path, name: str, timeout: float = 240) -> tuple[int, str]:
    """Wait for a trial that a SLURM job has been running for a moment; its number and job id."""
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        try:
            study = load_study(sweep_dir, name)
        except (FileNotFoundError, KeyError):
            time.sleep(0.5)
            continue
        for trial in study.get_trials(states=(TrialState.RUNNING,)):
            worker = trial.user_attrs.get("cnnsweep_worker_pid")
            if isinstance(worker, str) and trial.intermediate_values:  # mid-training
                return trial.number, worker.removeprefix("slurm-")
        time.sleep(0.3)
    raise AssertionError("no SLURM job started a trial")


def test_an_eight_trial_sweep_over_two_slurm_jobs(cluster, tmp_path):
    sweep_dir = tmp_path / "sweep"
    proc = run_cli(*_slurm_sweep(sweep_dir, "slurm", 8), cwd=tmp_path, env=cluster.env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    study = load_study(sweep_dir, "slurm")
    table = assert_consistent(sweep_dir, study)
    assert len(table) == 8 and "pruned" in set(table.state), table
    workers = {t.user_attrs["cnnsweep_worker_pid"] for t in study.trials}
    jobs = [job for job in cluster.ended_jobs() if job["Name"] == "cnnsweep-slurm"]
    assert workers == {f"slurm-{job['JobId']}" for job in jobs}  # the trials ran in these jobs
    assert len(jobs) == 2 and all(job["JobState"] == "COMPLETED" for job in jobs), jobs
    assert (sweep_dir / "report.html").is_file()
    assert "submitted 2 SLURM jobs" in proc.stdout + proc.stderr
    assert not (sweep_dir / ".storage-url").exists()  # the jobs' storage URL, removed once they ended


def test_a_cancelled_job_has_its_trial_failed_and_retried(cluster, tmp_path):
    sweep_dir = tmp_path / "sweep"
    command = _start(_slurm_sweep(sweep_dir, "cancel", 8, "trainer.epochs=6"), tmp_path, cluster.env)
    number, job = _running_trial_of_a_job(sweep_dir, "cancel")
    cluster.run("scancel", job)
    output = command.communicate(timeout=600)[0]
    assert command.returncode == 0, output[-3000:]
    study = load_study(sweep_dir, "cancel")
    lost = study.trials[number]
    # scancel sends SIGTERM first: the worker records its trial as interrupted and queues it
    # again (if SLURM's SIGKILL comes first, the coordinator finds the job dead and does it)
    how = f"interrupted \\(SIGTERM\\)|SLURM job {job} died"
    assert lost.state == TrialState.FAIL and re.search(how, str(lost.user_attrs))
    retries = [t for t in study.trials if t.user_attrs.get("cnnsweep_retry_of") == number]
    assert len(retries) == 1 and retries[0].params == lost.params
    table = assert_consistent(sweep_dir, study)
    finished = table[~table.error.fillna("").str.contains(how)]
    assert len(finished) == 8  # n_trials, the lost trial not counted
    assert len(set(table.trial_number)) == len(table)  # no trial number twice
    assert f"SLURM job {job} ended before the sweep did" in output


def test_ctrl_c_cancels_the_jobs_and_the_same_command_resumes(cluster, tmp_path):
    sweep_dir = tmp_path / "sweep"
    args = _slurm_sweep(sweep_dir, "resume", 6, "trainer.epochs=6")
    command = _start(args, tmp_path, cluster.env)
    _running_trial_of_a_job(sweep_dir, "resume")
    command.send_signal(signal.SIGINT)
    output = command.communicate(timeout=300)[0]
    assert command.returncode == 130, output[-3000:]
    assert not [j for j in cluster.queue()], "a job of the sweep was left in the queue"
    study = load_study(sweep_dir, "resume")
    assert not study.get_trials(states=(TrialState.RUNNING,))
    resumed = run_cli(*args, cwd=tmp_path, env=cluster.env, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    table = assert_consistent(sweep_dir, load_study(sweep_dir, "resume"))
    done = table[table.state.isin(["complete", "pruned", "infeasible"])]
    assert len(done) == 6


@requires(__import__("tests.postgres").postgres.postgres_bin() is not None, "apt-get install postgresql")
def test_a_postgresql_password_stays_out_of_files_logs_and_job_records(cluster, tmp_path):
    from tests.postgres import throwaway_server

    password = "s3cret-pw-7f3a"
    sweep_dir = tmp_path / "sweep"
    with throwaway_server() as server:
        url = server.url_with_password(password)
        args = _slurm_sweep(sweep_dir, "pg", 4, f"hydra.sweeper.storage={url}")
        command = _start(args, tmp_path, cluster.env)
        records = []
        modes = set()
        until = time.monotonic() + 300
        while command.poll() is None and time.monotonic() < until:  # what SLURM shows of the jobs
            records.append(cluster.run("scontrol", "show", "job", check=False).stdout)
            records.append(cluster.run("squeue", "-o", "%all", check=False).stdout)
            with contextlib.suppress(FileNotFoundError):  # while the jobs run: only its owner reads it
                modes.add((sweep_dir / ".storage-url").stat().st_mode & 0o777)
            time.sleep(1)
        output = command.communicate(timeout=300)[0]
        assert command.returncode == 0, output[-3000:]
    assert any("cnnsweep-pg" in record for record in records)  # the jobs were seen
    assert password not in output and not any(password in record for record in records)
    for folder in (tmp_path, cluster.root):
        for path in folder.rglob("*"):
            if path.is_file():
                assert password.encode() not in path.read_bytes(), path
    assert modes == {0o600}  # the one place it was written, while the jobs needed it
    assert not (sweep_dir / ".storage-url").exists()


def test_wait_false_submits_and_returns_then_the_same_command_writes_the_report(cluster, tmp_path):
    sweep_dir = tmp_path / "sweep"
    args = _slurm_sweep(sweep_dir, "later", 4)
    started = time.monotonic()
    proc = run_cli(*args, "hydra.sweeper.wait=false", cwd=tmp_path, env=cluster.env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert time.monotonic() - started < 60 and len(cluster.queue()) == 2  # it did not wait
    assert "without hydra.sweeper.wait=false to write trials.csv and report.html" in proc.stdout + proc.stderr
    assert not (sweep_dir / "report.html").exists()
    cluster.wait_until_empty(timeout=400)
    study = load_study(sweep_dir, "later")
    assert len([t for t in study.trials if t.state.is_finished()]) == 4
    final = run_cli(*args, cwd=tmp_path, env=cluster.env)
    assert final.returncode == 0, final.stderr[-3000:]
    assert len(assert_consistent(sweep_dir, load_study(sweep_dir, "later"))) == 4
    assert (sweep_dir / "report.html").is_file()


def test_an_unknown_partition_is_refused_before_anything_is_submitted(cluster, tmp_path):
    sweep_dir = tmp_path / "sweep"
    proc = run_cli(
        *_slurm_sweep(sweep_dir, "bad", 2, "hydra.launcher.partition=gpu-huge"), cwd=tmp_path, env=cluster.env
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "hydra.launcher.partition=gpu-huge: SLURM has no such partition (it has debug)" in proc.stderr
    assert "Traceback" not in proc.stderr and not cluster.queue()
    assert not (sweep_dir / ".submitit").exists() and not (sweep_dir / "optuna.journal").exists()


def test_submitit_slurm_without_slurm_is_refused(tmp_path):
    bare = tmp_path / "bin"
    bare.mkdir()
    (bare / "python").symlink_to(sys.executable)
    proc = run_cli(*_slurm_sweep(tmp_path / "sweep", "none", 2), cwd=tmp_path, env={"PATH": str(bare)})
    assert proc.returncode == 2, proc.stderr[-2000:]
    needs = "hydra/launcher=submitit_slurm needs SLURM's sbatch, squeue, scancel on this machine"
    assert needs in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "sweep" / "optuna.journal").exists()


def test_the_confirmation_runs_are_slurm_jobs_too(cluster, tmp_path):
    import pandas as pd

    sweep_dir = tmp_path / "sweep"
    proc = run_cli(
        *_slurm_sweep(
            sweep_dir, "trusted", 4, "hydra.sweeper.confirm.top_k=2", "hydra.sweeper.confirm.seeds=1"
        ),
        cwd=tmp_path,
        env=cluster.env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    table = pd.read_csv(sweep_dir / "confirm.csv")
    assert len(table) == 2 * (1 + 1) and set(table["status"]) == {"complete"}, table
    jobs = [job for job in cluster.ended_jobs() if job["Name"] == "cnnsweep-trusted-confirm"]
    assert len(jobs) == 2 and all(job["JobState"] == "COMPLETED" for job in jobs), jobs
    for run_dir in table["run_dir"][table["run_dir"].str.startswith("confirm/")]:
        assert (sweep_dir / run_dir / "metrics.json").is_file()
