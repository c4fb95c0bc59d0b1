"""Real sweeps on digits, as subprocesses: pruning, infeasible trials, parallel
workers, resume after SIGKILL, PostgreSQL, and the sweeper's bad-input messages."""

from __future__ import annotations

import hashlib
import html
import json
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
import yaml
from optuna.trial import TrialState

from cnnsweep import run_files
from cnnsweep.sweep.study.records import metrics_of, surplus
from tests.helpers import FAST, assert_consistent, cli_env, load_study, requires, run_cli, sweep_args


@pytest.mark.slow
def test_sweep_prunes_and_records_infeasible_trials(tmp_path):
    sweep_dir = tmp_path / "sweep"
    proc = run_cli(
        *sweep_args(
            sweep_dir,
            "model=seed",
            "model.padding=valid",
            "trainer.epochs=4",
            "model.filters=choice(4,16)",
            "trainer.learning_rate=choice(0.00001,0.003)",
            "model.kernel_size=choice(2,9)",
            "hydra.sweeper.n_trials=8",
            "hydra.sweeper.pruner.n_startup_trials=2",
            "hydra.sweeper.pruner.n_warmup_steps=1",
            "hydra.sweeper.study_name=prune",
        ),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    study = load_study(sweep_dir, "prune")
    table = assert_consistent(sweep_dir, study)
    assert len(table) == 8
    states = set(table["state"])
    assert {"pruned", "infeasible", "complete"} <= states, table
    infeasible = table[table.state == "infeasible"]
    assert infeasible["error"].str.contains("model.kernel_size=9 does not fit").all()
    for number in infeasible.trial_number:  # no objective to show; a broken constraint for TPE
        stored = study.trials[number]
        assert stored.state == TrialState.PRUNED and stored.values is None
        assert stored.constraints and max(stored.constraints.values()) > 0
    assert (infeasible["model.kernel_size"] == 9).all()
    results = (sweep_dir / "optimization_results.yaml").read_text()
    best = table[table.state == "complete"].sort_values("objective").iloc[-1]
    assert f"best_trial: {best.trial_number}" in results
    # a progress line per finished trial, with the best so far and what is left
    assert "[trial 7]" in proc.stderr + proc.stdout and "0 left" in proc.stderr + proc.stdout


@pytest.mark.slow
def test_two_workers_reuse_a_freed_slot(tmp_path):
    """n_jobs=2 is not batch-blocking: short trials keep starting while a long one runs."""
    from optuna.storages.journal import JournalFileBackend

    sweep_dir = tmp_path / "sweep"
    sweep_dir.mkdir()
    storage = optuna.storages.JournalStorage(JournalFileBackend(str(sweep_dir / "optuna.journal")))
    queued = optuna.create_study(study_name="par", storage=storage, direction="maximize")
    for epochs in (80, 1, 1, 1):  # the first trial taken is long, the rest are short
        queued.enqueue_trial({"trainer.epochs": epochs})
    proc = run_cli(
        *sweep_args(
            sweep_dir,
            "model=seed",
            "model.filters=8",
            "trainer.early_stopping.patience=100",
            "trainer.epochs=choice(1,80)",
            "hydra/sweeper/pruner=none",
            "hydra.sweeper.n_trials=4",
            "hydra.sweeper.n_jobs=2",
            "hydra.sweeper.study_name=par",
        ),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = load_study(sweep_dir, "par")
    trials = study.get_trials(states=(TrialState.COMPLETE,))
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    long = next(t for t in trials if t.params["trainer.epochs"] == 80)
    inside = [
        t
        for t in trials
        if t is not long
        and long.datetime_start <= t.datetime_start
        and t.datetime_complete <= long.datetime_complete
    ]
    assert len(inside) >= 2, [(t.number, t.params, t.datetime_start, t.datetime_complete) for t in trials]
    assert_consistent(sweep_dir, study)
    counts = re.findall(r"(\d+)/4 done", proc.stdout + proc.stderr)
    assert counts == ["1", "2", "3", "4"]  # each count printed once, in order


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_sigkill_then_resume_finishes_the_budget(tmp_path):
    sweep_dir = tmp_path / "sweep"
    args = sweep_args(
        sweep_dir,
        "model=seed",
        "model.filters=choice(4,8)",
        "trainer.epochs=3",
        "model.kernel_size=choice(2,3)",
        "trainer.batch_size=32",
        "hydra/sweeper/pruner=none",
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.study_name=resume",
    )
    # 320 training images in batches of 32: 30 batches a trial, so the 35th batch is
    # mid-way through trial 1's first epoch. The process kills itself there.
    proc = run_cli(*args, cwd=tmp_path, env={"CNNSWEEP_FAULT": "batch:35:kill"})
    assert proc.returncode == -signal.SIGKILL
    assert not (sweep_dir / "1" / "metrics.json").exists()
    first = json.loads((sweep_dir / "0" / "metrics.json").read_text())
    assert first["status"] == "complete"
    kept = {name: _digest(sweep_dir / "0" / name) for name in ("metrics.json", "history.csv")}

    resumed = run_cli(*args, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    study = load_study(sweep_dir, "resume")
    trials = study.get_trials()
    finished = [t for t in trials if t.state != TrialState.FAIL or "cnnsweep" in t.user_attrs]
    assert len(finished) == 4
    interrupted = [t for t in trials if t.state == TrialState.FAIL and "cnnsweep" not in t.user_attrs]
    assert [t.number for t in interrupted] == [1]
    retry = [t for t in trials if t.user_attrs.get("cnnsweep_retry_of") == 1]
    assert len(retry) == 1 and retry[0].params == interrupted[0].params
    assert len({t.number for t in trials}) == len(trials)
    assert {name: _digest(sweep_dir / "0" / name) for name in kept} == kept
    table = assert_consistent(sweep_dir, study)
    assert (table.state == "complete").sum() == 4


def test_user_sweep_files_in_the_working_directory(tmp_path):
    (tmp_path / "sweeps").mkdir()
    (tmp_path / "sweeps" / "mine.yaml").write_text(
        "hydra:\n  sweeper:\n    n_trials: 0\n    params:\n      model.filters: choice(8, 16)\n"
    )
    proc = run_cli("--multirun", "+sweep=mine", *FAST, f"hydra.sweep.dir={tmp_path}/s", cwd=tmp_path)
    assert proc.returncode == 2
    assert "hydra.sweeper.n_trials=0 must be an integer >= 1" in proc.stderr  # the file was used


@pytest.mark.slow
@requires(__import__("tests.postgres").postgres.postgres_bin() is not None, "apt-get install postgresql")
def test_two_machines_share_one_postgresql_study(tmp_path):
    """Two sweeps (as on two machines) against one PostgreSQL study split its budget."""
    from tests.postgres import throwaway_server

    with throwaway_server() as server:
        url = server.url
        commands = [
            [
                sys.executable,
                "-m",
                "cnnsweep",
                *sweep_args(
                    tmp_path / f"machine{i}",
                    "+sweep=seed_cnn",
                    "trainer.epochs=2",
                    "hydra/sweeper/pruner=none",
                    "hydra.sweeper.n_trials=6",
                    f"hydra.sweeper.storage={url}",
                    "hydra.sweeper.study_name=shared",
                ),
            ]
            for i in (1, 2)
        ]
        env = cli_env()
        procs = [
            subprocess.Popen(
                cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            for cmd in commands
        ]
        outputs = [p.communicate(timeout=400)[0] for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outputs
        study = optuna.load_study(study_name="shared", storage=url)
        trials = study.get_trials()
    # Both asked for a trial at once near the end: the one beyond the budget stepped back
    # (failed, marked surplus, never run); the counted trials are the budget's six, once each.
    stepped_back = [t for t in trials if surplus(t)]
    assert all(t.state == TrialState.FAIL and t.number >= 6 for t in stepped_back)
    numbers = [t.number for t in trials if not surplus(t)]
    assert sorted(numbers) == list(range(6))  # exactly the budget, no duplicates
    assert all(t.state == TrialState.COMPLETE for t in trials if t.number in numbers)
    dirs = {
        i: {int(p.name) for p in (tmp_path / f"machine{i}").iterdir() if p.name.isdigit()} for i in (1, 2)
    }
    assert dirs[1] | dirs[2] == set(numbers) and not dirs[1] & dirs[2]
    assert dirs[1] and dirs[2]  # both machines did work
    for i in (1, 2):  # each machine's trials.csv shows the whole study
        assert len(pd.read_csv(tmp_path / f"machine{i}" / "trials.csv")) == 6


@pytest.mark.slow
def test_multi_objective_sweep_writes_a_pareto_front(tmp_path):
    sweep_dir = tmp_path / "sweep"
    proc = run_cli(
        *sweep_args(
            sweep_dir,
            "model=seed",
            "trainer.epochs=2",
            "model.filters=choice(2,8,32)",
            "hydra/sweeper/sampler=nsga2",
            "hydra.sweeper.direction=[maximize,minimize]",
            "hydra.sweeper.objectives=[objective,params_count]",
            "hydra.sweeper.n_trials=4",
            "hydra.sweeper.study_name=multi",
        ),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = load_study(sweep_dir, "multi")
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    results = (sweep_dir / "optimization_results.yaml").read_text()
    assert "pareto_front:" in results and "params_count" in results
    for trial in study.get_trials(states=(TrialState.COMPLETE,)):
        assert trial.values[1] == trial.user_attrs["cnnsweep"]["params_count"]


@pytest.mark.slow
def test_sweep_stops_past_max_failure_rate(tmp_path):
    sweep_dir = tmp_path / "sweep"
    proc = run_cli(
        *sweep_args(
            sweep_dir,
            "model.activation=elu",
            "model.filters=8",
            "trainer.epochs=2",
            "trainer.learning_rate=choice(1e12,1e13)",
            "hydra.sweeper.n_trials=10",
            "hydra.sweeper.max_failure_rate=0.5",
            "hydra.sweeper.study_name=nan",
        ),
        cwd=tmp_path,
    )
    assert proc.returncode == 3, proc.stderr[-3000:]
    output = proc.stdout + proc.stderr
    # every trial fails; the rate is judged once 4 trials have finished (README), so it stops there
    assert "stopping: 4 of 4 trials failed (hydra.sweeper.max_failure_rate=0.5)" in output
    assert "loss became NaN" in output and "Traceback" not in output
    table = pd.read_csv(sweep_dir / "trials.csv")
    assert list(table["state"]) == ["failed"] * 4
    assert table["error"].str.contains("loss became NaN/infinite").all()


@pytest.mark.slow
@pytest.mark.heavy
def test_worker_memory_stays_flat_over_fifty_trials(tmp_path):
    """A worker's memory after 50 trials is within 10% of its memory after 5."""
    sweep_dir = tmp_path / "sweep"
    proc = run_cli(
        *sweep_args(
            sweep_dir,
            "model=seed",
            "dataset.train_limit=200",
            "dataset.test_limit=50",
            "trainer.epochs=1",
            "trainer.save_model=false",
            "model.filters=choice(4,8)",
            "model.kernel_size=choice(2,3)",
            "hydra/sweeper/sampler=random",
            "hydra/sweeper/pruner=none",
            "hydra.sweeper.n_trials=50",
            "hydra.sweeper.study_name=memory",
        ),
        cwd=tmp_path,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = pd.read_csv(sweep_dir / "trials.csv").set_index("trial_number")
    assert (table["state"] == "complete").all()
    after_5, after_50 = table.loc[4, "memory_mb"], table.loc[49, "memory_mb"]
    assert after_5 > 100
    assert after_50 <= 1.10 * after_5, table["memory_mb"].tolist()


@pytest.mark.slow
def test_the_time_budget_stops_a_running_trial_and_covers_the_report(tmp_path):
    """A trial that would train for hours stops at its next epoch once the sweep's budget
    runs out, and counts with its best epoch so far; the report is written within the budget."""
    sweep_dir = tmp_path / "sweep"
    budget = 30
    started, wall_started = time.monotonic(), time.time()
    proc = run_cli(
        *sweep_args(
            sweep_dir,
            "model=seed",
            "model.filters=choice(4,8)",
            "trainer.epochs=100000",
            "trainer.early_stopping.patience=100000",
            "hydra.sweeper.n_trials=5",
            "hydra/sweeper/pruner=none",
            f"hydra.sweeper.timeout={budget}",
            "hydra.sweeper.study_name=budget",
        ),
        cwd=tmp_path,
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = pd.read_csv(sweep_dir / "trials.csv")
    assert set(table["state"]) == {"complete"} and len(table) <= 2  # no time for a third
    metrics = json.loads((sweep_dir / str(table["trial_number"].iloc[-1]) / "metrics.json").read_text())
    assert metrics["stopped_by"] == "deadline" and 1 <= metrics["epochs_run"] < 100000
    assert metrics["best_epoch"] <= metrics["epochs_run"] and metrics["test_acc"] is not None
    # No trial trained to its last epoch: the closing lines, summary.md and the report say so.
    caution = f"the time budget cut this search short: 0 of {len(table)} trials trained to their last epoch"
    assert caution in proc.stdout + proc.stderr
    assert f"- budget: {caution}" in (sweep_dir / "summary.md").read_text()
    assert f'<p id="budget-caution"><b>Budget:</b> {caution}' in (sweep_dir / "report.html").read_text()
    # The budget counts from the sweeper's start; Hydra's start-up before it is this machine's
    # speed, measured here as far as the first trial (an over-estimate: data loading is in both).
    first_trial = load_study(sweep_dir, "budget").trials[0].datetime_start.timestamp()
    start_up = first_trial - wall_started
    assert elapsed < budget + start_up + 5, (elapsed, budget, start_up)


@pytest.mark.slow
@pytest.mark.heavy
@pytest.mark.timed
def test_the_time_budget_keeps_back_the_refits_time(tmp_path):
    """With refit=true, the search stops early enough for the refit to run inside the budget."""
    settings = (
        "model=seed",
        "model.filters=choice(4,8,16)",
        "trainer.epochs=3",
        "hydra/sweeper/pruner=none",
        "hydra.sweeper.refit=true",
        "hydra.sweeper.study_name=reserve",
    )
    # The budget comes from this machine's speed today: a two-trial sweep with its refit, timed
    # whole (start-up, data, trials, refit, report), then three times that for the budgeted one.
    started = time.monotonic()
    probe = run_cli(*sweep_args(tmp_path / "probe", *settings, "hydra.sweeper.n_trials=2"), cwd=tmp_path)
    assert probe.returncode == 0, probe.stderr[-3000:]
    budget = max(30, round(3 * (time.monotonic() - started)))
    sweep_dir = tmp_path / "sweep"
    started, wall_started = time.monotonic(), time.time()
    proc = run_cli(
        *sweep_args(sweep_dir, *settings, "hydra.sweeper.n_trials=100000", f"hydra.sweeper.timeout={budget}"),
        cwd=tmp_path,
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "no time left for another trial and the refit" in proc.stderr + proc.stdout
    results = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert "refit" in results, (proc.stdout + proc.stderr)[-3000:]  # the log says why it was skipped
    refit = results["refit"]
    assert refit["status"] == "complete" and refit["test_acc"] is not None
    assert (sweep_dir / "report.html").exists()
    # The budget counts from the sweeper's start; Hydra's start-up before it is this machine's
    # speed, measured here as far as the first trial (an over-estimate: data loading is in both).
    first_trial = load_study(sweep_dir, "reserve").trials[0].datetime_start.timestamp()
    start_up = first_trial - wall_started
    assert elapsed < budget + start_up + 5, (elapsed, budget, start_up)


@pytest.mark.slow
@pytest.mark.heavy
@pytest.mark.timed
def test_a_refit_share_spends_the_time_kept_back_on_a_longer_refit_with_two_workers(tmp_path):
    """With refit_share, the refit gets the time left and sizes its epochs to it: with two
    workers whose trials ran slower than a refit alone, it still runs, trains more epochs than
    the best trial's, and the sweep ends within its budget."""
    settings = (
        "model=seed",
        "model.filters=choice(4,8)",
        "trainer.epochs=2",
        "hydra/sweeper/pruner=none",
        "hydra.sweeper.refit=true",
        "hydra.sweeper.refit_share=0.4",
        "hydra.sweeper.n_jobs=2",
        "hydra.sweeper.study_name=share",
    )
    budget = 60
    sweep_dir = tmp_path / "sweep"
    started, wall_started = time.monotonic(), time.time()
    proc = run_cli(
        *sweep_args(sweep_dir, *settings, "hydra.sweeper.n_trials=100000", f"hydra.sweeper.timeout={budget}"),
        cwd=tmp_path,
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-3000:]
    refit = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text()).get("refit")
    assert refit and refit["status"] == "complete", (proc.stdout + proc.stderr)[-3000:]
    metrics = json.loads((sweep_dir / refit["dir"] / "metrics.json").read_text())
    best = load_study(sweep_dir, "share").best_trial
    assert metrics["epochs_run"] == metrics["epochs_planned"] == refit["epochs"]
    assert refit["epochs"] > metrics_of(best)["best_epoch"]
    first_trial = min(t.datetime_start.timestamp() for t in load_study(sweep_dir, "share").trials)
    assert elapsed < budget + (first_trial - wall_started) + 5


@pytest.mark.slow
def test_refit_retrains_the_best_configuration_on_every_training_image(tmp_path):
    sweep_dir = tmp_path / "sweep"
    args = sweep_args(
        sweep_dir,
        "model=seed",
        "model.filters=choice(4,8)",
        "model.kernel_size=choice(2,3)",
        "trainer.epochs=3",
        "hydra.sweeper.n_trials=3",
        "hydra/sweeper/pruner=none",
        "hydra.sweeper.refit=true",
        "hydra.sweeper.ensemble=3",
        "hydra.sweeper.baselines=[{model.filters:8,model.kernel_size:3}]",
        "hydra.sweeper.study_name=refit",
    )
    proc = run_cli(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = load_study(sweep_dir, "refit")
    assert study.trials[0].params == {"model.filters": 8, "model.kernel_size": 3}  # the baseline first
    results = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    refit = results["refit"]
    assert refit["trial"] == results["best_trial"] and refit["status"] == "complete"
    best = json.loads((sweep_dir / str(refit["trial"]) / "metrics.json").read_text())
    refitted = json.loads((sweep_dir / refit["dir"] / "metrics.json").read_text())
    assert refitted["epochs_run"] == refit["epochs"] == best["best_epoch"]
    assert refitted["train_images"] == best["train_images"] + best["val_images"]
    assert refitted["test_acc"] == pytest.approx(refit["test_acc"])
    page = (sweep_dir / "report.html").read_text()
    assert 'id="refit-test-acc"' in page and "never used to choose" in page
    assert len(pd.read_csv(sweep_dir / "trials.csv")) == 3  # the refit is not a trial

    # The ensemble: the refit, then the two best trials by validation, their saved test
    # probabilities averaged (each run's own probabilities score its own test accuracy).
    ensemble = results["ensemble"]
    ranked = sorted(
        (t for t in study.trials if t.state == TrialState.COMPLETE), key=lambda t: (-t.value, t.number)
    )
    assert ensemble["members"] == [refit["dir"], *(f"trial {t.number}" for t in ranked[:2])]
    scores = [
        run_files.read_test_scores(sweep_dir / folder)
        for folder in (refit["dir"], *(str(t.number) for t in ranked[:2]))
    ]
    assert (scores[0][0].argmax(axis=1) == scores[0][1]).mean() == pytest.approx(refit["test_acc"], abs=1e-4)
    mean = sum(probabilities for probabilities, _ in scores) / 3
    assert ensemble["status"] == "complete"
    assert ensemble["test_acc"] == pytest.approx((mean.argmax(axis=1) == scores[0][1]).mean(), abs=1e-4)
    assert 'id="ensemble-test-acc"' in page and "chose neither the members" in page

    again = run_cli(*args, cwd=tmp_path)
    assert again.returncode == 0 and "refit: trial" not in again.stderr + again.stdout  # kept, not redone


@pytest.mark.slow
def test_fidelity_prunes_on_a_share_of_the_images(tmp_path):
    sweep_dir = tmp_path / "sweep"
    proc = run_cli(
        *sweep_args(
            sweep_dir,
            "model=seed",
            "trainer.epochs=3",
            "model.filters=choice(2,16)",
            "trainer.learning_rate=choice(0.00001,0.003)",
            "hydra.sweeper.n_trials=6",
            "hydra/sweeper/pruner=successive_halving",
            "hydra.sweeper.pruner.min_resource=25",
            "hydra.sweeper.fidelity=[0.25]",
            "hydra.sweeper.study_name=fidelity",
        ),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = load_study(sweep_dir, "fidelity")
    table = assert_consistent(sweep_dir, study)
    assert len(table) == 6 and "pruned" in set(table.state), table
    for trial in study.trials:  # steps are images seen: a quarter epoch, then whole ones
        steps = sorted(trial.intermediate_values)
        assert steps == [25, 125, 225][: len(steps)], steps
        history = pd.read_csv(sweep_dir / str(trial.number) / "history.csv")
        assert list(history["images"]) == [80, 320, 320][: len(history)]
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    assert any(len(t.intermediate_values) == 1 for t in pruned)  # dropped after the short epoch


@pytest.mark.slow
def test_the_best_trials_command_trains_it_again(tmp_path):
    sweep_dir = tmp_path / "sweep"
    proc = run_cli(
        *sweep_args(
            sweep_dir,
            "model=seed",
            "trainer.epochs=2",
            "model.filters=choice(4,8)",
            "model.padding=choice(valid,same)",
            "hydra/sweeper/pruner=none",
            "hydra.sweeper.n_trials=3",
            "hydra.sweeper.fidelity=[0.5]",
            "hydra.sweeper.study_name=again",
        ),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    command = results["best_command"]
    best = results["best_trial"]
    assert command.startswith("python -m cnnsweep ") and f"trainer.seed={best}" in command
    assert "trainer.subset_epochs=[0.5]" in command and "dataset=digits" in command
    for trial in range(3):  # each trial's saved config is what it trained with, the fidelity too
        saved = yaml.safe_load((sweep_dir / str(trial) / ".hydra" / "config.yaml").read_text())
        assert saved["trainer"]["subset_epochs"] == [0.5] and saved["trainer"]["seed"] == trial
        assert "trainer.subset_epochs=[0.5]" in yaml.safe_load(
            (sweep_dir / str(trial) / ".hydra" / "overrides.yaml").read_text()
        )
    assert command in (sweep_dir / "summary.md").read_text()
    assert command in html.unescape((sweep_dir / "report.html").read_text())
    assert f"train it again: {command}" in proc.stdout + proc.stderr
    rerun = run_cli(*shlex.split(command)[3:], f"hydra.run.dir={tmp_path / 'again'}", cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    again = json.loads((tmp_path / "again" / "metrics.json").read_text())
    assert again["val_acc"] == pytest.approx(results["best_value"], abs=1e-6)


@pytest.mark.slow
def test_resuming_with_a_changed_space_is_refused_and_leaves_the_study_untouched(tmp_path):
    sweep_dir = tmp_path / "sweep"
    first = sweep_args(sweep_dir, "+sweep=seed_cnn", "trainer.epochs=1", "hydra.sweeper.n_trials=4")
    proc = run_cli(*first, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    before = {name: _digest(sweep_dir / name) for name in ("optuna.db", "trials.csv")}

    changed = run_cli(*first, "model.filters=choice(8,12)", "hydra.sweeper.n_trials=6", cwd=tmp_path)
    assert changed.returncode == 2, changed.stderr[-3000:]
    (line,) = [line for line in changed.stderr.splitlines() if line.strip()]
    assert line.startswith("cnnsweep: error: the study 'seed_cnn'")
    assert "model.filters was choice(16, 32, 64, 128), now choice(8, 12)" in line
    assert "Resume it with the old space, or start a new study with another hydra.sweep.dir" in line
    assert {name: _digest(sweep_dir / name) for name in before} == before

    widened = run_cli(
        *first,
        "trainer.epochs=1",
        "trainer.learning_rate=interval(0.001,0.01)",
        "hydra.sweeper.n_trials=5",
        cwd=tmp_path,
    )  # a new numeric key: allowed
    assert widened.returncode == 0, widened.stderr[-3000:]
    assert len(pd.read_csv(sweep_dir / "trials.csv")) == 5


@pytest.mark.slow
@pytest.mark.heavy  # a sweep, its confirmation, its ablation and a resume: about two minutes
def test_the_confirmation_and_the_ablation_run_on_two_processes_and_a_resume_keeps_their_runs(tmp_path):
    sweep_dir = tmp_path / "sweep"
    args = sweep_args(
        sweep_dir,
        "model=seed",
        "trainer.epochs=2",
        "model.filters=choice(4,8)",
        "model.kernel_size=choice(2,3)",
        "hydra/sweeper/pruner=none",
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.n_jobs=2",
        "hydra.sweeper.confirm.top_k=2",
        "hydra.sweeper.confirm.seeds=2",
        "hydra.sweeper.ablation.seeds=1",
        "hydra.sweeper.study_name=confirmed",
    )
    proc = run_cli(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = pd.read_csv(sweep_dir / "confirm.csv")
    assert len(table) == 2 * (1 + 2) and set(table["status"]) == {"complete"}
    new = table[table["run_dir"].str.startswith("confirm/")]
    trial_seeds = set(range(4))  # trainer.seed 0 + trial number
    assert len(set(new["seed"])) == 4 and not set(new["seed"]) & trial_seeds
    for row in new.itertuples():  # each a normal run dir that trained with its new seed
        run_dir = sweep_dir / row.run_dir
        metrics = json.loads((run_dir / "metrics.json").read_text())
        saved = yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text())
        assert metrics["seed"] == row.seed == saved["trainer"]["seed"]
        assert metrics["val_acc"] == pytest.approx(row.objective)
    # Two at a time: a run's folder is made as it starts and its metrics.json written as it ends.
    spans = sorted(
        ((sweep_dir / r / ".hydra").stat().st_mtime, (sweep_dir / r / "metrics.json").stat().st_mtime)
        for r in new["run_dir"]
    )
    assert any(later_start < end for (_, end), (later_start, _) in zip(spans, spans[1:], strict=False)), spans
    results = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    confirmed = results["confirmed"]
    assert [c["runs"] for c in confirmed["configs"]] == [2, 2] and isinstance(confirmed["clear_winner"], bool)
    path = pd.read_csv(sweep_dir / "ablation.csv")  # from the seed model (filters 128, kernel 2) to the best
    assert len(path) >= 2 and (path["runs"] == 1).all()
    for step in path["step"]:  # each step a run dir of its own, trained by a worker process
        (run_dir,) = (sweep_dir / "ablation").glob(f"{step}-seed*")
        assert json.loads((run_dir / "metrics.json").read_text())["status"] == "complete"
    output = [line for line in proc.stdout.splitlines() if line.strip()]  # Hydra logs to stdout
    assert output[-1].endswith(confirmed["verdict"])  # the progress output ends with the verdict
    before = (sweep_dir / "confirm.csv").read_text()
    again = run_cli(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "configuration with seed" not in again.stdout + again.stderr  # nothing left to run
    assert "ablation: step" not in again.stdout + again.stderr
    assert (sweep_dir / "confirm.csv").read_text() == before
