"""Fault injection: real sweeps killed, interrupted, cut off from their database
or out of disk, and what they keep. Each test states one guarantee of the
README's "What happens when things go wrong".

These run as their own CI step (``make test-faults``): the killed-at-random
sweeps alone start twenty processes (ten killed, ten resumed). Those whose
fault comes at a point in the code run two at a time; those marked ``timed``
race the clock (a heartbeat, a held process, a signal at a moment) and run alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from cnnsweep.sweep.study import records
from tests.helpers import IN_CI, cli_env, load_study, requires, run_cli, sweep_args

pytestmark = pytest.mark.fault

TINY = [
    "model=seed",
    "dataset.train_limit=200",
    "dataset.test_limit=50",
    "trainer.epochs=2",
    "model.filters=choice(4,8)",
    "model.kernel_size=choice(2,3)",
    "hydra/sweeper/sampler=random",
    "hydra/sweeper/pruner=none",
]

# (fault point, the occurrences a 3-trial sweep of TINY reaches)
# artifact: 3 trials x (model.keras, history.csv, metrics.json), and trials.csv and
# optimization_results.yaml after the first trial and at the end, are renamed into place by
# the sweep's process (curves.png by its helper process, which the fault does not reach).
KILL_POINTS = [("data", 3), ("batch", 25), ("artifact", 13), ("tell", 3), ("between", 2)]


def assert_finished_trials_intact(sweep_dir: Path, study: optuna.Study) -> None:
    """Every trial the storage counts as finished has its files, whole."""
    for trial in study.get_trials():
        if not records.counts_toward_budget(trial) or records.trial_state(trial) != "complete":
            continue
        run_dir = sweep_dir / str(trial.number)
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert metrics["status"] == "complete" and metrics["objective"] == pytest.approx(trial.value)
        history = pd.read_csv(run_dir / "history.csv")
        assert len(history) == metrics["epochs_run"]
        with zipfile.ZipFile(run_dir / "model.keras") as archive:
            assert archive.testzip() is None
            assert "model.weights.h5" in archive.namelist()


def finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.get_trials() if records.counts_toward_budget(t)]


def popen_sweep(tmp_path: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cnnsweep", *args],
        cwd=tmp_path,
        env=cli_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition, timeout: float = 120.0, every: float = 0.2, *, proc=None, explain=None):
    """``condition()``'s first truthy value, polled every ``every`` seconds.

    With ``proc`` (the sweep under test), a sweep that ends first fails the wait at once, and
    a timeout kills it: either way the failure shows its output and ``explain()`` (e.g. the
    study's trials), so a failure in CI says what the sweep was doing.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        if proc is not None and proc.poll() is not None:
            ended = f"the sweep ended (status {proc.returncode}) before {condition.__name__}"
            raise AssertionError(ended + _what_happened(proc, explain))
        time.sleep(every)
    what = f"timed out after {timeout}s waiting for {condition.__doc__ or condition.__name__}"
    raise AssertionError(what + (_what_happened(proc, explain) if proc is not None else ""))


def _what_happened(proc: subprocess.Popen, explain) -> str:
    state = _quietly(explain) if explain is not None else None
    for pid in [*_descendants(proc.pid), proc.pid]:  # workers hold the output pipes too
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    return f"\n--- state: {state}\n--- stdout (end):\n{out[-4000:]}\n--- stderr (end):\n{err[-4000:]}"


def _descendants(pid: int) -> list[int]:
    """Every living process below ``pid`` (worker processes start their own sessions)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def running_trial(sweep_dir: Path, name: str, at_least: int = 0):
    """A RUNNING trial numbered >= at_least, once one has trained a batch or so.

    None while the sweep is still creating its storage: opening a SQLite file whose
    tables the sweep is writing at that moment can collide with it (IntegrityError).
    """
    from sqlalchemy.exc import SQLAlchemyError

    try:
        study = load_study(sweep_dir, name)
    except (KeyError, ValueError, OSError, SQLAlchemyError, optuna.exceptions.StorageInternalError):
        return None
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if trial.number >= at_least and (sweep_dir / str(trial.number) / ".hydra").is_dir():
            return trial
    return None


@pytest.mark.parametrize("seed", range(2 * len(KILL_POINTS)))
def test_sigkill_at_a_random_point_then_resume_completes_the_study(tmp_path, seed):
    # Each point twice: at a seeded occurrence in the first half of those the sweep reaches,
    # then in the second half (the last trial's, for the once-per-trial points).
    point, reach = KILL_POINTS[seed % len(KILL_POINTS)]
    half = (reach + 1) // 2
    low, high = (1, half) if seed < len(KILL_POINTS) else (min(half + 1, reach), reach)
    hit = random.Random(seed).randint(low, high)
    sweep_dir = tmp_path / "sweep"
    args = sweep_args(
        sweep_dir,
        *TINY,
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.study_name=kill",
        f"hydra.sweeper.sampler.seed={seed}",
        "hydra.sweeper.report=false",
    )
    killed = run_cli(*args, cwd=tmp_path, env={"CNNSWEEP_FAULT": f"{point}:{hit}:kill"})
    assert killed.returncode == -signal.SIGKILL, (point, hit, killed.stderr[-2000:])

    resumed = run_cli(*args, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    study = load_study(sweep_dir, "kill")
    done = finished(study)
    assert len(done) == 3, [(t.number, t.state) for t in study.get_trials()]
    numbers = [t.number for t in study.get_trials()]
    assert len(numbers) == len(set(numbers))
    assert not study.get_trials(states=(TrialState.RUNNING, TrialState.WAITING))
    assert_finished_trials_intact(sweep_dir, study)
    assert not (sweep_dir / "report.html").exists()  # hydra.sweeper.report=false
    table = pd.read_csv(sweep_dir / "trials.csv")
    assert table["trial_number"].is_unique and sorted(table["trial_number"]) == sorted(numbers)


def running_trial_of_two_workers(sweep_dir: Path, name: str):
    """A RUNNING trial (as ``running_trial``) once two workers have each marked a trial."""
    trial = running_trial(sweep_dir, name)
    if trial is None or records.WORKER_ATTR not in trial.user_attrs:
        return None
    study = load_study(sweep_dir, name)
    workers = {t.user_attrs.get(records.WORKER_ATTR) for t in study.get_trials(deepcopy=False)}
    return trial if len(workers - {None}) >= 2 else None


@pytest.mark.timed
def test_sigkill_of_one_of_two_workers_is_retried_while_the_other_carries_on(tmp_path):
    """One of two workers is SIGKILLed mid-trial. Every worker holds after its first trial
    until the test lets it go, so the retry can only be taken by the replacement worker
    the coordinator starts in the dead one's place."""
    sweep_dir = tmp_path / "sweep"
    release = tmp_path / "go"
    proc = popen_sweep(
        tmp_path,
        *sweep_args(
            sweep_dir,
            *TINY,
            "dataset.train_limit=400",
            "trainer.epochs=4",
            "hydra.sweeper.n_trials=6",
            "hydra.sweeper.n_jobs=2",
            "hydra.sweeper.study_name=pair",
        ),
        env={"CNNSWEEP_FAULT": "between:1:hold", "CNNSWEEP_FAULT_RELEASE": str(release)},
    )
    try:
        # Kill only once both workers hold a trial of their own: a survivor still starting
        # up when its peer dies could take the retry as its first trial.
        victim = wait_for(lambda: running_trial_of_two_workers(sweep_dir, "pair"), timeout=180, proc=proc)
        pid = victim.user_attrs[records.WORKER_ATTR]
        os.kill(pid, signal.SIGKILL)

        def retry_done():
            study = _quietly(lambda: load_study(sweep_dir, "pair"))
            return study and [
                t
                for t in study.get_trials()
                if t.state == TrialState.COMPLETE and t.user_attrs.get(records.RETRY_ATTR) == victim.number
            ]

        retry = wait_for(retry_done, timeout=240, every=0.5, proc=proc)[0]
        release.touch()
        out, err = proc.communicate(timeout=300)
    finally:
        release.touch()  # held workers go on, find their coordinator gone, and stop
        proc.kill()
    assert proc.returncode == 0, err[-3000:]
    assert f"worker process {pid} died (signal 9)" in out
    restarted = re.search(r"worker \d+ restarted \(pid (\d+)\)", out)
    assert restarted and int(restarted.group(1)) != pid, out[-3000:]
    # The survivor was held after its first trial: the replacement ran the retry.
    assert retry.user_attrs[records.WORKER_ATTR] == int(restarted.group(1))
    study = load_study(sweep_dir, "pair")
    lost = study.get_trials()[victim.number]
    assert lost.state == TrialState.FAIL and records.interrupted(lost)
    assert "died" in lost.user_attrs[records.ABANDONED_ATTR]
    assert retry.params == lost.params
    assert len(finished(study)) == 6
    assert len({t.user_attrs[records.WORKER_ATTR] for t in finished(study)}) >= 2  # the survivor went on
    assert_finished_trials_intact(sweep_dir, study)


@pytest.mark.timed
@pytest.mark.parametrize("resume", [False, True], ids=["fresh", "resumed"])
def test_two_workers_asking_at_once_for_the_last_trial_end_with_exactly_n_trials(tmp_path, resume):
    """Both workers find one trial left and ask for it at the same moment (each holds just
    before asking until the test lets both go): the study ends with exactly n_trials finished
    trials, fresh, or resumed with more workers and a larger budget."""
    sweep_dir = tmp_path / "sweep"
    release = tmp_path / "go"
    base = [*TINY, "hydra.sweeper.study_name=last", "hydra.sweeper.n_jobs=2"]
    n_trials, hold_at = 3, 2  # a fresh sweep: each worker's first trial, then both ask for the third
    if resume:
        done = run_cli(
            *sweep_args(sweep_dir, *TINY, "hydra.sweeper.study_name=last", "hydra.sweeper.n_trials=3"),
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        n_trials = 6  # resumed: 3 done, each worker's first trial, then both ask for the sixth
    proc = popen_sweep(
        tmp_path,
        *sweep_args(sweep_dir, *base, f"hydra.sweeper.n_trials={n_trials}"),
        env={"CNNSWEEP_FAULT": f"ask:{hold_at}:hold", "CNNSWEEP_FAULT_RELEASE": str(release)},
    )
    try:

        def both_waiting_to_ask():
            study = _quietly(lambda: load_study(sweep_dir, "last"))
            if not study:
                return False
            trials = study.get_trials()
            return len(finished(study)) == n_trials - 1 and not [
                t for t in trials if t.state == TrialState.RUNNING
            ]

        def trials_now():
            return [
                (t.number, t.state.name, sorted(t.user_attrs)) for t in load_study(sweep_dir, "last").trials
            ]

        wait_for(both_waiting_to_ask, timeout=240, every=0.5, proc=proc, explain=trials_now)
        time.sleep(2.0)  # both workers are past the budget check, held at the ask
        release.touch()
        out, err = proc.communicate(timeout=300)
    finally:
        release.touch()
        proc.kill()
    assert proc.returncode == 0, err[-3000:]
    study = load_study(sweep_dir, "last")
    assert len(finished(study)) == n_trials
    assert f"{n_trials + 1}/{n_trials}" not in out + err
    surplus = [t for t in study.get_trials() if records.surplus(t)]
    assert len(surplus) == 1 and surplus[0].number == max(t.number for t in study.get_trials())
    table = pd.read_csv(sweep_dir / "trials.csv")
    assert len(table) == n_trials and surplus[0].number not in set(table["trial_number"])


@pytest.mark.timed
@requires(__import__("tests.postgres").postgres.postgres_bin() is not None, "apt-get install postgresql")
def test_postgresql_restart_mid_sweep_loses_no_trial_and_no_password_leaks(tmp_path):
    from tests.postgres import throwaway_server

    password = "pw-4c9e1f-not-for-logs"
    sweep_dir = tmp_path / "sweep"
    with throwaway_server() as server:
        url = server.url_with_password(password)
        proc = popen_sweep(
            tmp_path,
            *sweep_args(
                sweep_dir,
                *TINY,
                "dataset.train_limit=400",
                "trainer.epochs=3",
                "hydra.sweeper.n_trials=5",
                f"hydra.sweeper.storage={url}",
                "hydra.sweeper.study_name=restart",
            ),
        )
        try:

            def second_trial_running():
                study = optuna.load_study(study_name="restart", storage=server.url)
                return any(t.number >= 1 and t.state == TrialState.RUNNING for t in study.get_trials())

            wait_for(lambda: _quietly(second_trial_running), timeout=180, every=0.5, proc=proc)
            server.stop("fast")
            time.sleep(4.0)
            server.start()
            out, err = proc.communicate(timeout=400)
        finally:
            proc.kill()
        assert proc.returncode == 0, err[-3000:]
        assert "study storage unreachable" in out + err  # the restart was felt, and ridden out
        study = optuna.load_study(study_name="restart", storage=server.url)
        trials = study.get_trials()
        assert len(finished(study)) == 5
        assert all(t.state == TrialState.COMPLETE for t in finished(study))
        assert_finished_trials_intact(sweep_dir, study)
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    leaks = [str(p) for p in sweep_dir.rglob("*") if p.is_file() and password.encode() in p.read_bytes()]
    assert not leaks
    assert password not in out + err


@pytest.mark.timed
@requires(__import__("tests.postgres").postgres.postgres_bin() is not None, "apt-get install postgresql")
def test_a_machine_that_stops_beating_has_its_trial_run_again_by_the_other(tmp_path):
    """Two sweeps on one PostgreSQL study as two machines. Machine A stalls in its trial
    (alive, beating) while B finishes the rest: B must leave A's trial alone. Then A is
    SIGKILLed: once its heartbeat is older than the grace period, B fails the trial and runs
    it again, and ends with the whole budget."""
    from tests.postgres import throwaway_server

    grace = 4
    with throwaway_server() as server:

        def machine(name: str, env: dict | None = None) -> subprocess.Popen:
            return popen_sweep(
                tmp_path,
                *sweep_args(
                    tmp_path / name,
                    *TINY,
                    "dataset.train_limit=400",
                    "hydra.sweeper.n_trials=3",
                    f"hydra.sweeper.storage={server.url}",
                    "hydra.sweeper.study_name=beat",
                    "hydra.sweeper.heartbeat.interval=1",
                    f"hydra.sweeper.heartbeat.grace_period={grace}",
                    "hydra.sweeper.report=false",
                ),
                env=env,
            )

        def trials():
            return optuna.load_study(study_name="beat", storage=server.url).get_trials()

        def a_stalls_while_b_finishes_the_rest():
            done = [t for t in trials() if t.state == TrialState.COMPLETE]
            running = [t for t in trials() if t.state == TrialState.RUNNING]
            return len(done) == 2 and len(running) == 1 and running[0]

        # A holds in its first trial's third batch, its heartbeat thread still beating.
        a = machine("a", env={"CNNSWEEP_FAULT": "batch:3:hold"})
        b = machine("b")
        try:
            held = wait_for(lambda: _quietly(a_stalls_while_b_finishes_the_rest), timeout=300, every=0.5)
            assert (tmp_path / "a" / str(held.number)).is_dir()  # it is A's trial
            # B has been told to wait, not to take over: A's trial runs on while A lives.
            time.sleep(2 * grace)
            assert trials()[held.number].state == TrialState.RUNNING
            assert b.poll() is None
            a.kill()
            killed_at = time.time()
            a.communicate(timeout=60)
            out, err = b.communicate(timeout=300)
        finally:
            a.kill()
            b.kill()
        assert b.returncode == 0, err[-3000:]
        study = optuna.load_study(study_name="beat", storage=server.url)
        every = study.get_trials()
    assert "waiting for 1 trial(s) running elsewhere" in out + err
    lost = every[held.number]
    assert lost.state == TrialState.FAIL and records.interrupted(lost)
    assert "no heartbeat" in lost.user_attrs[records.ABANDONED_ATTR]
    assert lost.datetime_complete.timestamp() >= killed_at + grace - 1.5  # not before the grace period
    retries = [t for t in every if t.user_attrs.get(records.RETRY_ATTR) == held.number]
    assert len(retries) == 1 and retries[0].params == lost.params
    assert retries[0].state == TrialState.COMPLETE
    assert (tmp_path / "b" / str(retries[0].number) / "metrics.json").is_file()  # B ran it
    assert len([t for t in every if records.counts_toward_budget(t)]) == 3
    table = pd.read_csv(tmp_path / "b" / "trials.csv").set_index("trial_number")
    assert table["state"].value_counts().to_dict() == {"complete": 3, "failed": 1}
    assert "no heartbeat" in table.loc[held.number, "error"]
    assert table.loc[retries[0].number, "retry_of"] == held.number


@pytest.mark.timed
@requires(__import__("tests.postgres").postgres.postgres_bin() is not None, "apt-get install postgresql")
def test_a_trial_whose_machine_died_before_its_first_heartbeat_is_run_again(tmp_path):
    """A machine asks PostgreSQL for a trial and dies before its heartbeat starts (or a create
    that committed is retried): the trial is RUNNING with no heartbeat at all. Another machine
    waits for it only the grace period, then fails it and runs it again."""
    from tests.postgres import throwaway_server

    grace = 3
    with throwaway_server() as server:
        args = [
            *TINY,
            f"hydra.sweeper.storage={server.url}",
            "hydra.sweeper.study_name=silent",
            "hydra.sweeper.heartbeat.interval=1",
            f"hydra.sweeper.heartbeat.grace_period={grace}",
            "hydra.sweeper.report=false",
        ]
        first = run_cli(*sweep_args(tmp_path / "a", *args, "hydra.sweeper.n_trials=1"), cwd=tmp_path)
        assert first.returncode == 0, first.stderr[-3000:]
        dead = subprocess.run(  # asks for a trial on the shared study, then dies without a beat
            [
                sys.executable,
                "-c",
                "import optuna, os, sys; s = optuna.load_study(study_name='silent', "
                "storage=sys.argv[1]); t = s.ask(); print(t.number, flush=True); os._exit(9)",
                server.url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        orphan = int(dead.stdout.strip())
        started = time.monotonic()
        proc = run_cli(
            *sweep_args(tmp_path / "b", *args, "hydra.sweeper.n_trials=3"), cwd=tmp_path, timeout=300
        )
        waited = time.monotonic() - started
        assert proc.returncode == 0, proc.stderr[-3000:]
        every = optuna.load_study(study_name="silent", storage=server.url).get_trials()
    lost = every[orphan]
    assert lost.state == TrialState.FAIL and "no heartbeat at all" in lost.user_attrs[records.ABANDONED_ATTR]
    retries = [t for t in every if t.user_attrs.get(records.RETRY_ATTR) == orphan]
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE
    assert len([t for t in every if records.counts_toward_budget(t)]) == 3
    assert waited < 240  # bounded by the grace period, not by the time budget (there is none)


@pytest.mark.timed
@requires(__import__("tests.postgres").postgres.postgres_bin() is not None, "apt-get install postgresql")
def test_a_machine_paused_past_the_grace_period_finds_its_trial_taken_and_goes_on(tmp_path):
    """A machine frozen (SIGSTOP: a paused VM, a stalled host) for longer than the grace
    period has its trial failed by another; when it wakes up it says so in one line, stops
    that trial, and goes on with the study, without a traceback."""
    from cnnsweep.sweep.study import recovery
    from cnnsweep.sweep.study.storage import Heartbeat, open_storage
    from tests.postgres import throwaway_server

    with throwaway_server() as server:
        sweep_dir = tmp_path / "sweep"
        proc = popen_sweep(
            tmp_path,
            *sweep_args(
                sweep_dir,
                *TINY,
                "dataset.train_limit=400",
                "trainer.epochs=6",
                "hydra.sweeper.n_trials=2",
                f"hydra.sweeper.storage={server.url}",
                "hydra.sweeper.study_name=paused",
                "hydra.sweeper.heartbeat.interval=1",
                "hydra.sweeper.heartbeat.grace_period=2",
                "hydra.sweeper.report=false",
            ),
            env={"CNNSWEEP_FAULT": "batch:2:hold", "CNNSWEEP_FAULT_RELEASE": str(tmp_path / "go")},
        )
        try:

            def first_trial_held():
                trials = optuna.load_study(study_name="paused", storage=server.url).get_trials()
                return trials and trials[0].state == TrialState.RUNNING and not trials[0].intermediate_values

            wait_for(lambda: _quietly(first_trial_held), timeout=180, every=0.5, proc=proc)
            time.sleep(1.0)  # in its second batch: at least one heartbeat written
            os.kill(proc.pid, signal.SIGSTOP)
            (tmp_path / "go").touch()
            time.sleep(4.0)
            other = open_storage(
                server.url,
                tmp_path / "other",
                several_writers=True,
                heartbeat=Heartbeat(interval=1, grace_period=2),
            )
            study = optuna.load_study(study_name="paused", storage=other.storage)
            recovery.recover_stale(study, other)  # another machine's look at the study
            assert study.get_trials()[0].state == TrialState.FAIL
            os.kill(proc.pid, signal.SIGCONT)
            out, err = proc.communicate(timeout=300)
        finally:
            os.kill(proc.pid, signal.SIGCONT) if proc.poll() is None else None
            proc.kill()
        every = optuna.load_study(study_name="paused", storage=server.url).get_trials()
    assert proc.returncode == 0, err[-3000:]
    assert "trial 0 was failed by another machine while it ran here" in out + err
    assert "Traceback" not in out + err
    assert "no heartbeat" in every[0].user_attrs[records.ABANDONED_ATTR]
    retries = [t for t in every if t.user_attrs.get(records.RETRY_ATTR) == 0]
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE
    assert len([t for t in every if records.counts_toward_budget(t)]) == 2


def _quietly(check):
    try:
        return check()
    except Exception:  # the study may not exist yet
        return False


def _mount_tmpfs(target: Path, size: str) -> bool:
    target.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target)], capture_output=True
    )
    return done.returncode == 0


def test_disk_full_fails_the_trial_with_its_reason_and_keeps_the_others(tmp_path):
    """The sweep dir is a 600 kB tmpfs: the big model (1 MB) does not fit, the small one does."""
    sweep_dir = tmp_path / "small-disk"
    env = {}
    if not _mount_tmpfs(sweep_dir, "600k"):  # no mount permission: fill the disk by injection
        assert not IN_CI, "CI runs as root and must take the real tmpfs"
        env = {"CNNSWEEP_FAULT": "artifact:1:enospc"}
        warnings.warn(
            "no permission to mount a tmpfs: the disk-full test injects ENOSPC instead", stacklevel=1
        )
    try:
        proc = run_cli(
            *sweep_args(
                sweep_dir,
                "model=seed",
                "trainer.epochs=1",
                "model.filters=choice(2,512)",
                "model.kernel_size=1",
                "model.padding=same",
                "hydra/sweeper/sampler=grid",
                "hydra/sweeper/pruner=none",
                "hydra.sweeper.n_trials=2",
                "hydra.sweeper.study_name=full",
                f"hydra.sweeper.storage=sqlite:///{tmp_path / 'study.db'}",
            ),
            cwd=tmp_path,
            env=env,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        study = optuna.load_study(study_name="full", storage=f"sqlite:///{tmp_path / 'study.db'}")
        states = {t.params["model.filters"]: records.trial_state(t) for t in study.get_trials()}
        failed = [t for t in study.get_trials() if records.trial_state(t) == "failed"]
        assert len(failed) == 1, states
        error = records.metrics_of(failed[0])["error"]
        assert error.startswith("disk full while writing") and "trainer.save_model=false" in error
        assert "Traceback" not in proc.stderr
        assert_finished_trials_intact(sweep_dir, study)
        assert len([t for t in study.get_trials() if records.trial_state(t) == "complete"]) == 1
    finally:
        if not env:
            subprocess.run(["umount", "-l", str(sweep_dir)], capture_output=True)


@pytest.mark.timed
@pytest.mark.parametrize(
    ("sent", "status", "name", "n_jobs"),
    [
        (signal.SIGINT, 130, "Ctrl-C", 1),
        (signal.SIGTERM, 143, "SIGTERM", 1),  # kill, docker stop, systemd, scancel
        (signal.SIGTERM, 143, "Ctrl-C", 2),  # the coordinator passes it on to its workers as Ctrl-C
    ],
    ids=["sigint", "sigterm", "sigterm-two-workers"],
)
def test_ctrl_c_stops_cleanly_reports_and_resumes(tmp_path, sent, status, name, n_jobs):
    sweep_dir = tmp_path / "sweep"
    args = sweep_args(
        sweep_dir,
        *TINY,
        "dataset.train_limit=400",
        "trainer.epochs=6",
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.study_name=ctrlc",
        f"hydra.sweeper.n_jobs={n_jobs}",
    )
    proc = popen_sweep(tmp_path, *args)
    try:
        wait_for(lambda: running_trial(sweep_dir, "ctrlc", at_least=n_jobs), timeout=180, proc=proc)
        proc.send_signal(sent)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == status, err[-3000:]
    assert "Traceback" not in out + err and "interrupted" in out + err
    assert (sweep_dir / "report.html").is_file()
    table = pd.read_csv(sweep_dir / "trials.csv").set_index("trial_number")
    stopped = table[table.error.fillna("").str.startswith(f"interrupted: interrupted ({name})")]
    assert len(stopped) >= 1 and set(stopped.state) == {"failed"}
    assert set(table.state) <= {"complete", "failed"}  # nothing left running
    if n_jobs == 1:
        assert list(stopped.index) == [1] and table.loc[0, "state"] == "complete"

    resumed = run_cli(*args, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    study = load_study(sweep_dir, "ctrlc")
    assert len(finished(study)) == 4
    for number in stopped.index:  # each interrupted trial was queued again once, and ran
        retry = [t for t in study.get_trials() if t.user_attrs.get(records.RETRY_ATTR) == number]
        assert len(retry) == 1 and records.trial_state(retry[0]) == "complete"
    assert_finished_trials_intact(sweep_dir, study)


@pytest.mark.timed
def test_a_second_command_on_a_live_sweep_dir_refuses_and_takes_over_from_a_dead_one(tmp_path):
    """Two terminals, or a scheduler's retry: the second command never fails the first one's trial."""
    sweep_dir = tmp_path / "sweep"
    args = sweep_args(
        sweep_dir,
        *TINY,
        "dataset.train_limit=400",
        "trainer.epochs=6",
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.study_name=twice",
    )
    first = popen_sweep(tmp_path, *args)
    try:
        wait_for(lambda: running_trial(sweep_dir, "twice", at_least=0), timeout=180, proc=first)
        second = run_cli(*args, cwd=tmp_path, timeout=180)
        out, err = first.communicate(timeout=300)
    finally:
        first.kill()
    assert second.returncode == 2, second.stderr[-2000:]
    assert f"is in use by a running sweep (process {first.pid} on " in second.stderr
    assert "Traceback" not in second.stderr + err
    assert first.returncode == 0, err[-3000:]
    table = pd.read_csv(sweep_dir / "trials.csv")
    assert len(table) == 3 and set(table.state) <= {"complete", "pruned"}  # nothing failed by the second

    # The owner dies (SIGKILL, mid-trial): its lock dies with it, and the same command resumes.
    more = [a if a != "hydra.sweeper.n_trials=3" else "hydra.sweeper.n_trials=5" for a in args]
    owner = popen_sweep(tmp_path, *more)
    try:
        wait_for(lambda: running_trial(sweep_dir, "twice", at_least=3), timeout=180, proc=owner)
        owner.kill()
        owner.wait()
    finally:
        owner.kill()
    resumed = run_cli(*more, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    study = load_study(sweep_dir, "twice")
    assert len(finished(study)) == 5
    assert_finished_trials_intact(sweep_dir, study)


def test_out_of_memory_in_a_trial_is_recorded_and_the_worker_goes_on(tmp_path):
    """An out-of-memory error mid-epoch (injected: MemoryError at the 3rd batch)."""
    sweep_dir = tmp_path / "sweep"
    proc = run_cli(
        *sweep_args(
            sweep_dir,
            *TINY,
            "hydra.sweeper.n_trials=3",
            "hydra.sweeper.study_name=oom",
            "hydra.sweeper.report=false",
        ),
        cwd=tmp_path,
        env={"CNNSWEEP_FAULT": "batch:3:oom"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    study = load_study(sweep_dir, "oom")
    states = [records.trial_state(t) for t in study.get_trials()]
    assert states == ["failed", "complete", "complete"]
    error = records.metrics_of(study.get_trials()[0])["error"]
    assert error.startswith("out of memory while training (MemoryError). Lower trainer.batch_size")
    assert json.loads((sweep_dir / "0" / "metrics.json").read_text())["error"] == error
    assert_finished_trials_intact(sweep_dir, study)
