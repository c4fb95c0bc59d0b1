"""The sweep's loop in parts, without Keras: a worker's ask-run-tell loop, the
coordinator's records, the refit's decisions and the trial's overrides, on an
in-memory study with a launcher that returns made-up metrics at once.

The end-to-end sweeps in tests/e2e/ train real models through the same code.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from types import SimpleNamespace

import optuna
import pandas as pd
import pytest
import yaml
from optuna.storages import InMemoryStorage

from cnnsweep.errors import ConfigError
from cnnsweep.sweep import budget, confirm, progress, refit
from cnnsweep.sweep.loops import coordinate, work
from cnnsweep.sweep.overrides import subset_epochs_override, trial_overrides
from cnnsweep.sweep.state import Sweep, training_deadline
from cnnsweep.sweep.study import lifecycle as studies
from cnnsweep.sweep.study import records, reruns
from cnnsweep.sweep.study.storage import OpenStorage
from cnnsweep.sweep.workers.env import STORAGE_VAR, WorkerEnv, worker_command
from cnnsweep.sweep.workers.interrupts import StopRequest
from tests.sweep.composed import sweep_settings


class FakeLauncher:
    """Runs a trial by answering ``outcome(trial)`` at once; remembers what it was given."""

    def __init__(self, settings, outcome=None):
        self.settings = settings
        self.outcome = outcome or (
            lambda trial: {
                "status": "complete",
                "objective": 0.5 + trial.number / 100,
                "test_acc": 0.4,
                "best_epoch": 2,
                "epochs_run": 3,
                "images_per_second": 1000.0,
                "train_images": 800,
                "val_images": 200,
                "first_epoch_seconds": 0.5,
            }
        )
        self.hooks = []
        self.refits = []
        self.confirms = []
        self.ablations = []
        self.ablate_outcome = lambda params, seed: {"status": "complete", "objective": 0.5, "test_acc": 0.4}
        # a new seed's run: the trial's own objective, a little lower (its single run was lucky)
        # new seeds score about as the trial did, with a seed-to-seed noise of about 0.0005
        self.confirm_outcome = lambda trial, seed: {
            "status": "complete",
            "objective": trial.value - 0.001 + 0.0005 * (seed % 3 - 1),
            "test_acc": 0.4,
        }

    def overrides(self, trial):
        return trial_overrides(self.settings, trial)

    def run(self, trial, hooks):
        self.hooks.append(hooks)
        return self.outcome(trial)

    def refit(self, trial, epochs, subdir, hooks, seconds=None):
        self.refits.append((trial.number, epochs, subdir))
        self.refit_seconds = seconds
        return {"status": "complete", "test_acc": 0.61}

    def confirm(self, trial, seed, subdir, hooks):
        self.confirms.append((trial.number, seed, subdir))
        return self.confirm_outcome(trial, seed)

    def ablate(self, number, params, seed, subdir, hooks):
        self.ablations.append((dict(params), seed, subdir))
        return self.ablate_outcome(params, seed)


def make_sweep(tmp_path, *overrides, outcome=None, told=None, deadline=None):
    told = told or WorkerEnv()
    settings = sweep_settings(*overrides, sweep_dir=str(tmp_path))
    study = optuna.create_study(
        storage=InMemoryStorage(),
        study_name=settings.study_name,
        direction=settings.directions[0],
        sampler=optuna.samplers.RandomSampler(seed=0),
    )
    study.set_user_attr("cnnsweep_params", settings.param_keys)
    return Sweep(
        settings=settings,
        study=study,
        storage=OpenStorage(":memory:", study._storage, False),
        launcher=FakeLauncher(settings, outcome),
        stop_request=StopRequest(),  # type: ignore[arg-type]
        constrained=False,
        told=told,
        deadline=deadline,
    )


def states(sweep):
    return [records.trial_state(t) for t in sweep.study.get_trials(deepcopy=False)]


# ---------------------------------------------------------------- the worker's loop
def test_a_worker_runs_the_budget_and_tells_each_trial_how_it_ended(tmp_path):
    sweep = make_sweep(
        tmp_path,
        "hydra.sweeper.n_trials=5",
        "hydra.sweeper.fidelity=[0.1,0.3]",
        told=WorkerEnv(workers_here=3),
        deadline=time.time() + 3600,
    )
    done = []
    work(sweep, on_trial_done=done.append)
    assert done == [0, 1, 2, 3, 4] and states(sweep) == ["complete"] * 5
    assert records.best_trials(sweep.study)[0].number == 4  # the largest made-up objective
    hooks = sweep.launcher.hooks[0]
    assert hooks.fidelity == (0.1, 0.3) and hooks.memory_share == 3 and hooks.deadline == sweep.deadline


def test_of_two_trials_asked_at_once_for_the_last_place_the_later_steps_back(tmp_path):
    """The study decides: whichever worker asked second sees the first one's trial ahead of
    its own, gives its trial back, and the loop ends with exactly n_trials."""
    sweep = make_sweep(tmp_path, "hydra.sweeper.n_trials=3")
    work(sweep, on_trial_done=lambda number: None)
    sweep.settings = sweep_settings("hydra.sweeper.n_trials=4", sweep_dir=str(tmp_path))
    first = sweep.study.ask()  # another worker's: asked a moment before this one
    mine = sweep.study.ask()
    assert studies.within_budget(sweep.study, first, 4) and not studies.within_budget(sweep.study, mine, 4)
    studies.step_back(sweep.study, mine)
    sweep.study.tell(first, 0.9)
    assert studies.budget_of(sweep.study).done == 4 and records.surplus(sweep.study.trials[mine.number])
    assert [t.number for t in records.own_trials(sweep.study)] == [0, 1, 2, first.number]
    assert records.state_counts(sweep.study) == {"complete": 4}
    work(sweep)  # the budget is spent: nothing more is asked
    assert len(sweep.study.trials) == 5


def test_a_trial_that_cannot_start_fails_and_the_loop_goes_on(tmp_path):
    def outcome(trial):
        if trial.number == 1:
            raise RuntimeError("no such launcher")
        return {
            "status": "infeasible" if trial.number == 2 else "complete",
            "objective": 0.5,
            "error": "too big" if trial.number == 2 else None,
        }

    sweep = make_sweep(tmp_path, "hydra.sweeper.n_trials=4", outcome=outcome)
    work(sweep)
    assert states(sweep) == ["complete", "failed", "infeasible", "complete"]
    assert records.metrics_of(sweep.study.trials[1])["error"] == "RuntimeError: no such launcher"


def test_too_many_failures_stop_the_loop_and_say_why(tmp_path):
    sweep = make_sweep(
        tmp_path,
        "hydra.sweeper.n_trials=20",
        "hydra.sweeper.max_failure_rate=0.5",
        outcome=lambda trial: {"status": "failed", "error": "NaN loss"},
    )
    work(sweep)
    assert len(sweep.study.trials) == studies.MIN_FINISHED_TO_JUDGE
    assert sweep.stopped_by == ["too_many_failures"]


def test_no_trial_starts_when_the_deadline_leaves_no_time(tmp_path):
    sweep = make_sweep(tmp_path, "hydra.sweeper.n_trials=5", deadline=time.time() - 1)
    work(sweep)
    assert sweep.study.trials == []


def test_no_trial_starts_once_the_longest_first_epoch_no_longer_fits(tmp_path):
    """Two quick first epochs and one of 30 s: with 20 s left the median would still start
    trials, each of which could run 30 s before its first chance to stop."""

    def outcome(trial):
        return {
            "status": "complete",
            "objective": 0.5,
            "first_epoch_seconds": 30.0 if trial.number == 2 else 0.5,
        }

    sweep = make_sweep(tmp_path, "hydra.sweeper.n_trials=10", outcome=outcome, deadline=time.time() + 20)
    work(sweep)
    assert len(sweep.study.trials) == 3


def test_ctrl_c_during_a_trial_queues_it_again_and_stops_the_loop(tmp_path):
    def outcome(trial):
        if trial.number == 1:
            raise KeyboardInterrupt
        return {"status": "complete", "objective": 0.5}

    sweep = make_sweep(tmp_path, "hydra.sweeper.n_trials=5", outcome=outcome)
    with pytest.raises(KeyboardInterrupt):
        work(sweep)
    trials = sweep.study.get_trials(deepcopy=False)
    assert [t.state.name for t in trials] == ["COMPLETE", "FAIL", "WAITING"]
    assert trials[2].system_attrs["fixed_params"] == trials[1].params  # queued once more, as it was
    assert trials[2].user_attrs[records.RETRY_ATTR] == 1


def test_a_worker_marks_its_trials_with_what_it_was_told(tmp_path):
    sweep = make_sweep(tmp_path, "hydra.sweeper.n_trials=2", told=WorkerEnv(worker_id="slurm-42"))
    work(sweep, marks_trials=True)
    assert {t.user_attrs[records.WORKER_ATTR] for t in sweep.study.trials} == {"slurm-42"}


def test_a_coordinator_keeps_a_reserve_for_the_report_and_tells_its_workers_the_rest(tmp_path):
    settings = sweep_settings("hydra.sweeper.timeout=1000", sweep_dir=str(tmp_path))
    assert training_deadline(settings, started=0.0) == 1000 - 30  # 3% for the report
    assert training_deadline(sweep_settings(sweep_dir=str(tmp_path)), 0.0) is None


def worker_settings(coordinator, tmp_path):
    """The settings a worker process composes from the command its coordinator gives it."""
    command = worker_command(coordinator.command, str(tmp_path), coordinator.study_name)
    overrides = [arg for arg in command[3:] if not arg.startswith("--")]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(STORAGE_VAR, "sqlite:///unused.db")
        return sweep_settings(*overrides, sweep_dir=str(tmp_path))


def test_a_worker_of_two_asks_for_trials_as_long_as_its_coordinator_would(tmp_path):
    """Read alone, a worker's settings give the coordinator's arithmetic: the confirmation's
    time left is shared by the sweep's two workers on both sides, so a worker asks for the
    trials that time allows. (A worker told n_jobs=1 kept back twice the time and stopped.)"""
    overrides = (
        "hydra.sweeper.n_trials=8",
        "hydra.sweeper.n_jobs=2",
        "hydra.sweeper.confirm.top_k=2",
        "hydra.sweeper.confirm.seeds=3",
        "hydra.sweeper.timeout=3600",
        "hydra.sweeper.report=false",
    )

    class Enough(Exception):
        pass

    def six_only(number):
        if number == 5:
            raise Enough

    coordinator = make_sweep(tmp_path, *overrides, deadline=time.time() + 3600)
    coordinator.launcher.outcome = lambda trial: {**FakeLauncher(None).outcome(trial), "train_seconds": 100.0}
    with pytest.raises(Enough):
        work(coordinator, on_trial_done=six_only)
    # the top 2 configurations x 3 seeds, over 2 workers
    reserve = 6 * (1.1 * 100 + budget.CONFIRM_FIXED_S) / 2
    deadline = time.time() + reserve + 60  # time for the reserve and for the two trials left
    coordinator.deadline = deadline
    assert deadline - budget.search_deadline(coordinator) == pytest.approx(reserve)

    def as_worker(settings):
        told = WorkerEnv(storage_url="sqlite:///unused.db", index=0, workers_here=2, deadline=deadline)
        return Sweep(
            settings=settings,
            study=coordinator.study,
            storage=coordinator.storage,
            launcher=coordinator.launcher,
            stop_request=StopRequest(),
            constrained=False,
            told=told,
            deadline=deadline,
        )

    worker = as_worker(worker_settings(coordinator.settings, tmp_path))
    assert worker.settings.n_jobs == 2
    assert deadline - budget.search_deadline(worker) == pytest.approx(
        deadline - budget.search_deadline(coordinator)
    )
    told_one_job = as_worker(sweep_settings(*overrides, "hydra.sweeper.n_jobs=1", sweep_dir=str(tmp_path)))
    assert deadline - budget.search_deadline(told_one_job) == pytest.approx(2 * reserve)
    work(worker)
    assert states(coordinator) == ["complete"] * 8


# ---------------------------------------------------------------- the coordinator and its outputs
def test_the_coordinator_writes_the_records_with_a_command_that_reproduces_the_best(tmp_path):
    sweep = make_sweep(
        tmp_path, "hydra.sweeper.n_trials=3", "hydra.sweeper.fidelity=[0.1,0.3]", "hydra.sweeper.report=false"
    )
    coordinate(sweep)
    results = yaml.safe_load((tmp_path / records.RESULTS_FILE).read_text())
    assert results["best_trial"] == 2 and results["trials"] == {"complete": 3}
    command = results["best_command"]
    assert "trainer.subset_epochs=[0.1,0.3]" in command and "trainer.seed=2" in command
    for key, value in sweep.study.trials[2].params.items():
        assert f"{key}={value}" in command
    assert (tmp_path / records.TRIALS_FILE).read_text().count("\n") == 4  # a header and 3 trials


def test_the_eta_is_the_time_budget_when_the_trials_would_take_longer(tmp_path, caplog):
    sweep = make_sweep(tmp_path, "hydra.sweeper.n_trials=1000", deadline=time.time() + 600)
    work_one = make_sweep(tmp_path / "one", "hydra.sweeper.n_trials=1")
    work(work_one)
    sweep.study = work_one.study
    shown = progress.Progress(sweep)
    shown.done_before, shown.done_at_start = set(), 0  # as if trial 0 ran in this command
    shown.started -= 60  # a minute a trial: 999 more would take 16 hours
    with caplog.at_level(logging.INFO, logger="cnnsweep"):
        shown.report(0)
    line = caplog.records[-1].getMessage()
    assert "1/1000 done, 999 left, ETA " in line and line.endswith("(the time budget)")
    eta = line.split("ETA ")[1].split(" ")[0]
    assert "h" not in eta and eta.startswith(("9m", "10m")), line


def test_progress_counts_from_what_was_done_before_this_command(tmp_path, caplog):
    sweep = make_sweep(tmp_path, "hydra.sweeper.n_trials=3")
    work(sweep)
    shown = progress.Progress(sweep)
    sweep.study.enqueue_trial(dict(sweep.study.trials[0].params))
    sweep.settings = make_sweep(tmp_path, "hydra.sweeper.n_trials=4").settings
    work(sweep)
    with caplog.at_level("INFO", logger="cnnsweep"):
        shown.report(3)
        shown.report(3)  # each count once
    lines = [r.getMessage() for r in caplog.records if "done" in r.getMessage()]
    assert len(lines) == 1 and "4/4 done, 0 left" in lines[0]


def test_a_resume_counts_only_the_trials_that_end_in_it(tmp_path, caplog):
    # 3 trials done by an earlier command; this one (say n_jobs=2: it watches every trial of the
    # study as its workers tell them) must not count the old ones again.
    sweep = make_sweep(tmp_path, "hydra.sweeper.n_trials=3")
    work(sweep)
    shown = progress.Progress(sweep)
    sweep = make_sweep(tmp_path, "hydra.sweeper.n_trials=5")
    sweep.study = shown.sweep.study
    shown.sweep = sweep
    with caplog.at_level("INFO", logger="cnnsweep"):
        shown.report_new()  # the old trials: nothing to say
        work(sweep)
        shown.report_new()
    lines = [r.getMessage() for r in caplog.records if " done, " in r.getMessage()]
    assert [line.split("  ")[-1].split(",")[0] for line in lines] == ["4/5 done", "5/5 done"]


def test_the_sweeps_end_draws_the_curves_its_workers_left_undrawn(tmp_path, caplog):
    """A worker killed after its trial ended (a SLURM job cancelled while its drawing helper
    worked) leaves metrics and history but no curves.png: the coordinator draws it."""
    from cnnsweep import run_files

    history = {"loss": [1.0, 0.8], "acc": [0.4, 0.5], "val_loss": [1.1, 0.9], "val_acc": [0.5, 0.6]}

    def ran_without_its_plot(trial):
        metrics = {"status": "complete", "objective": 0.6, "best_epoch": 2, "trial_number": trial.number}
        run_files.write_run(tmp_path / str(trial.number), dict(metrics), history, draw=None)
        return metrics

    sweep = make_sweep(tmp_path, "hydra.sweeper.n_trials=2", outcome=ran_without_its_plot)
    (tmp_path / "9").mkdir()
    run_files.write_metrics(tmp_path / "9", {"status": "failed", "error": "interrupted"})  # no epoch ran
    with caplog.at_level("INFO", logger="cnnsweep"):
        coordinate(sweep)
    assert all((tmp_path / str(n) / run_files.CURVES_FILE).stat().st_size > 1000 for n in (0, 1))
    assert not (tmp_path / "9" / run_files.CURVES_FILE).exists()
    assert "drew 2 curves plot(s) that ended workers left undrawn" in caplog.text
    drawn = (tmp_path / "0" / run_files.CURVES_FILE).stat().st_mtime_ns
    coordinate(sweep)  # nothing left undrawn: nothing drawn again
    assert (tmp_path / "0" / run_files.CURVES_FILE).stat().st_mtime_ns == drawn


# ---------------------------------------------------------------- the refit's decisions
def test_the_refit_keeps_back_its_time_from_the_search(tmp_path):
    deadline = time.time() + 600
    sweep = make_sweep(tmp_path, "hydra.sweeper.n_trials=2", "hydra.sweeper.refit=true", deadline=deadline)
    assert budget.search_deadline(sweep) == deadline  # no complete trial yet: nothing to keep back
    work(sweep)
    needed = budget.refit_seconds(records.metrics_of(records.best_trials(sweep.study)[0]))
    # 2 epochs of 800 + 200 images at 1000 images/s, a tenth more, and the fixed cost
    assert needed == pytest.approx(1.1 * 2 * 1000 / 1000 + budget.REFIT_FIXED_S)
    assert deadline - budget.search_deadline(sweep) == pytest.approx(needed, abs=0.05)


def test_the_refit_trains_the_best_for_its_best_epoch_once(tmp_path):
    sweep = make_sweep(tmp_path, "hydra.sweeper.n_trials=3", "hydra.sweeper.refit=true")
    work(sweep)
    refit.refit(sweep)
    refit.refit(sweep)  # a resume: the same best trial's refit is kept, not repeated
    assert sweep.launcher.refits == [(2, 2, "refit-2")]
    assert sweep.study.user_attrs[records.REFIT_ATTR]["test_acc"] == 0.61


def test_a_refit_that_would_overrun_the_budget_is_skipped(tmp_path):
    sweep = make_sweep(tmp_path, "hydra.sweeper.n_trials=1", "hydra.sweeper.refit=true")
    work(sweep)
    sweep.deadline = time.time() + 1  # less than the ~4 s the refit needs
    refit.refit(sweep)
    assert sweep.launcher.refits == [] and records.REFIT_ATTR not in sweep.study.user_attrs


def test_a_refit_share_keeps_its_time_back_and_gives_the_refit_the_time_left(tmp_path):
    share = ("hydra.sweeper.refit=true", "hydra.sweeper.refit_share=0.25", "hydra.sweeper.timeout=400")
    sweep = make_sweep(tmp_path, "hydra.sweeper.n_trials=3", *share, deadline=time.time() + 600)
    # Before any trial, the share is kept back (a quarter of 400 s), not the ~4 s estimate.
    assert sweep.deadline - budget.search_deadline(sweep) == pytest.approx(100, abs=0.05)
    work(sweep)
    sweep.deadline = time.time() + 30.0
    refit.refit(sweep)
    # The refit starts its schedule at the best trial's 2 epochs and sizes itself to the time
    # left, less what a run spends beyond training (at least REFIT_FIXED_S).
    assert sweep.launcher.refits == [(2, 2, "refit-2")]
    assert sweep.launcher.refit_seconds == pytest.approx(30.0 - budget.REFIT_FIXED_S, abs=0.5)


def test_a_refit_share_skips_a_refit_with_no_time_to_size_itself(tmp_path):
    share = ("hydra.sweeper.refit=true", "hydra.sweeper.refit_share=0.25", "hydra.sweeper.timeout=400")
    sweep = make_sweep(tmp_path, "hydra.sweeper.n_trials=1", *share)
    work(sweep)
    # Two epochs of 1000 images at 1000 images/s, a tenth more: 2.2 s, and the 2 s beyond training.
    assert budget.epoch_seconds(records.metrics_of(records.best_trials(sweep.study)[0])) == pytest.approx(1.1)
    sweep.deadline = time.time() + 4.0
    refit.refit(sweep)
    assert sweep.launcher.refits == [] and records.REFIT_ATTR not in sweep.study.user_attrs


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        (("hydra.sweeper.refit_share=1.5",), "must be a number from 0 to 0.9"),
        (("hydra.sweeper.refit_share=0.3", "hydra.sweeper.timeout=60"), "hydra.sweeper.refit=true"),
        (("hydra.sweeper.refit_share=0.3", "hydra.sweeper.refit=true"), "hydra.sweeper.timeout=SECONDS"),
    ],
)
def test_a_refit_share_without_its_refit_or_budget_is_refused_with_the_fix(tmp_path, overrides, says):
    with pytest.raises(ConfigError, match=re.escape(says)):
        sweep_settings(*overrides, sweep_dir=str(tmp_path))


# ---------------------------------------------------------------- a trial's overrides
def test_a_trials_overrides_carry_its_values_seed_and_fidelity(tmp_path):
    settings = sweep_settings(
        "hydra.sweeper.fidelity=[0.1,0.3]",
        "trainer.seed=7",
        sweep_dir=str(tmp_path),
        arguments=["model.padding=valid"],
    )
    trial = SimpleNamespace(params={"model.filters": 32, "trainer.batch_size": 64}, number=3)
    overrides = trial_overrides(settings, trial)  # type: ignore[arg-type]
    assert overrides[0] == "model.padding=valid"  # a plain override pins its key
    assert {"model.filters=32", "trainer.batch_size=64", "trainer.seed=10"} <= set(overrides)
    assert overrides[-1] == subset_epochs_override((0.1, 0.3)) == "trainer.subset_epochs=[0.1,0.3]"
    plain = sweep_settings(sweep_dir=str(tmp_path))
    assert not any(o.startswith("trainer.subset_epochs") for o in trial_overrides(plain, trial))  # type: ignore[arg-type]


# ---------------------------------------------------------------- the confirmation
def test_the_confirmation_trains_k_times_s_new_runs_with_unused_seeds(tmp_path):
    from cnnsweep.sweep import confirm

    sweep = make_sweep(
        tmp_path,
        "hydra.sweeper.n_trials=5",
        "hydra.sweeper.confirm.top_k=2",
        "hydra.sweeper.confirm.seeds=3",
        "hydra.sweeper.report=false",
    )
    coordinate(sweep)
    runs = sweep.launcher.confirms
    assert len(runs) == 2 * 3 and {trial for trial, _, _ in runs} == {4, 3}  # the two best objectives
    seeds = [seed for _, seed, _ in runs]
    trial_seeds = {sweep.settings.run.trial_seed(t.number) for t in sweep.study.trials}
    assert len(set(seeds)) == 6 and not set(seeds) & trial_seeds
    assert all(subdir == f"{confirm.CONFIRM_DIR}/{trial}-seed{seed}" for trial, seed, subdir in runs)
    table = pd.read_csv(tmp_path / reruns.CONFIRM_FILE)
    assert list(table.columns) == list(reruns.CONFIRM_COLUMNS) and len(table) == 2 * (3 + 1)
    originals = table[table["original"]]  # each configuration's selecting run: shown, marked
    assert sorted(originals["run_dir"].astype(str)) == ["3", "4"]
    assert sorted(originals["seed"]) == [3, 4] and set(originals["status"]) == {"complete"}
    confirmed = yaml.safe_load((tmp_path / records.RESULTS_FILE).read_text())["confirmed"]
    assert [c["trial"] for c in confirmed["configs"]] == [4, 3] and confirmed["best_trial"] == 4
    assert [c["runs"] for c in confirmed["configs"]] == [3, 3]  # new seeds only
    assert confirmed["clear_winner"] is True  # 0.01 apart with 0.0005 of noise


def test_a_confirmation_run_interrupted_midway_is_not_recorded_and_the_sweep_says_stopped(tmp_path):
    from cnnsweep.errors import SweepStopped

    sweep = make_sweep(
        tmp_path,
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.confirm.top_k=1",
        "hydra.sweeper.confirm.seeds=2",
        "hydra.sweeper.report=false",
    )
    answer = sweep.launcher.confirm_outcome

    def interrupted_run(trial, seed):  # Ctrl-C arrives while the first new-seed run trains
        sweep.stop_request.requested.set()
        return answer(trial, seed)

    sweep.launcher.confirm_outcome = interrupted_run
    with pytest.raises(SweepStopped):
        coordinate(sweep)
    assert len(sweep.launcher.confirms) == 1  # it stopped there
    assert [
        r for r in reruns.confirm_runs(sweep.study).values() if not r["original"]
    ] == []  # a resume runs it


def test_a_resume_does_not_repeat_finished_confirmation_runs(tmp_path):
    sweep = make_sweep(
        tmp_path,
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.confirm.top_k=2",
        "hydra.sweeper.confirm.seeds=2",
        "hydra.sweeper.report=false",
    )
    coordinate(sweep)
    assert len(sweep.launcher.confirms) == 4
    sweep.launcher.confirms.clear()
    coordinate(sweep)  # the same sweep again: the budget is spent and every run is stored
    assert sweep.launcher.confirms == []


def test_the_refit_and_the_command_use_the_confirmed_best(tmp_path):
    sweep = make_sweep(
        tmp_path,
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.confirm.top_k=2",
        "hydra.sweeper.confirm.seeds=3",
        "hydra.sweeper.refit=true",
        "hydra.sweeper.report=false",
    )
    # trial 2 won its single run by luck: with new seeds, trial 1 is better
    sweep.launcher.confirm_outcome = lambda trial, seed: {
        "status": "complete",
        "objective": 0.6 if trial.number == 1 else 0.4,
        "test_acc": 0.5,
    }
    coordinate(sweep)
    results = yaml.safe_load((tmp_path / records.RESULTS_FILE).read_text())
    # one best everywhere: the confirmed one, its value the mean of its new runs
    assert results["best_trial"] == results["confirmed"]["best_trial"] == 1
    assert results["best_value"] == pytest.approx(0.6)
    assert results["best_value_is"] == "mean of 3 new-seed runs"
    assert results["best_params"] == dict(sweep.study.trials[1].params)
    assert results["best_test_acc"] == pytest.approx(0.5)
    assert [trial for trial, _, _ in sweep.launcher.refits] == [1]
    assert "trainer.seed=1" in results["best_command"]
    assert results["best_single_run"]["trial"] == 2  # still there, under a name that says what it is
    assert results["best_single_run"]["params"] == dict(sweep.study.trials[2].params)


def test_fewer_complete_trials_than_top_k_confirms_those_there_are(tmp_path, caplog):
    sweep = make_sweep(
        tmp_path,
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.confirm.top_k=5",
        "hydra.sweeper.confirm.seeds=1",
        "hydra.sweeper.report=false",
    )
    with caplog.at_level("INFO", logger="cnnsweep"):
        coordinate(sweep)
    assert len(sweep.launcher.confirms) == 2
    said = [r.getMessage() for r in caplog.records]
    assert any("only 2 distinct configurations completed, so 2 instead" in line for line in said)


def test_a_configuration_the_sampler_tried_twice_is_confirmed_once(tmp_path):
    first: dict = {}

    def outcome(trial):  # the twice-tried configuration scores best both times
        score = 0.9 if dict(trial.params) == first else 0.5 + trial.number / 100
        return {"status": "complete", "objective": score}

    sweep = make_sweep(
        tmp_path,
        "hydra.sweeper.n_trials=1",
        "hydra.sweeper.confirm.top_k=2",
        "hydra.sweeper.confirm.seeds=1",
        "hydra.sweeper.report=false",
        outcome=outcome,
    )
    work(sweep)
    params = dict(sweep.study.trials[0].params)
    first.update(params)
    for _ in range(2):  # the same values again, as TPE does on a small space
        sweep.study.enqueue_trial(params)
    sweep.settings = dataclasses.replace(sweep.settings, n_trials=4)
    work(sweep)
    assert len({tuple(sorted(t.params.items())) for t in sweep.study.trials}) == 2
    confirm.confirm(sweep)
    confirmed = {trial for trial, _, _ in sweep.launcher.confirms}
    assert len(confirmed) == 2  # the two distinct configurations, not one of them twice
    assert {tuple(sorted(sweep.study.trials[t].params.items())) for t in confirmed} == {
        tuple(sorted(t.params.items())) for t in sweep.study.trials
    }


def test_a_confirmation_that_does_not_fit_the_budget_is_cut_and_says_so(tmp_path, caplog):
    from cnnsweep.sweep import confirm

    sweep = make_sweep(
        tmp_path, "hydra.sweeper.n_trials=3", "hydra.sweeper.confirm.top_k=2", "hydra.sweeper.confirm.seeds=3"
    )
    work(sweep)
    cost = budget.confirm_run_seconds(records.metrics_of(sweep.study.trials[0]))  # about 3.6 s a run
    sweep.deadline = time.time() + 2.5 * cost
    with caplog.at_level("WARNING", logger="cnnsweep"):
        confirm.confirm(sweep)
    assert len(sweep.launcher.confirms) == 2  # one new seed for each configuration first
    assert any("cut to 2 of 6 runs" in r.getMessage() for r in caplog.records)


def test_the_search_keeps_back_the_confirmations_time(tmp_path):
    deadline = time.time() + 600
    sweep = make_sweep(
        tmp_path,
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.confirm.top_k=2",
        "hydra.sweeper.confirm.seeds=3",
        deadline=deadline,
    )
    work(sweep)
    per_run = budget.confirm_run_seconds(records.metrics_of(sweep.study.trials[0]))
    assert deadline - budget.search_deadline(sweep) == pytest.approx(6 * per_run, abs=0.05)


# ---------------------------------------------------------------- patience
def test_patience_stops_the_study_after_n_finished_trials_without_a_better_best(tmp_path):
    # trial 1 is the best; 2..4 are no better (3 is pruned, which counts; 5 would be infeasible,
    # which does not): patience 3 stops after trial 4.
    values = {0: 0.70, 1: 0.80, 2: 0.805, 3: None, 4: 0.79}

    def outcome(trial):
        value = values.get(trial.number, 0.99)
        if value is None:
            return {"status": "pruned", "objective": 0.4}
        return {"status": "complete", "objective": value}

    sweep = make_sweep(
        tmp_path,
        "hydra.sweeper.n_trials=20",
        "hydra.sweeper.patience=3",
        "hydra.sweeper.min_delta=0.01",
        outcome=outcome,
    )
    work(sweep)
    assert states(sweep) == ["complete", "complete", "complete", "pruned", "complete"]
    reason = studies.stalled(sweep.study, sweep.settings)
    assert reason is not None and "last 3 finished trials" in reason and "trial 2" in reason


def test_failed_and_infeasible_trials_do_not_use_up_patience(tmp_path):
    def outcome(trial):
        if trial.number == 0:
            return {"status": "complete", "objective": 0.9}
        return {"status": "infeasible" if trial.number % 2 else "failed", "objective": None, "error": "x"}

    sweep = make_sweep(
        tmp_path,
        "hydra.sweeper.n_trials=6",
        "hydra.sweeper.patience=2",
        "hydra.sweeper.max_failure_rate=1.0",
        outcome=outcome,
    )
    work(sweep)
    assert len(sweep.study.trials) == 6 and studies.stalled(sweep.study, sweep.settings) is None


def test_a_stalled_sweep_ends_as_a_finished_one_and_says_why(tmp_path, caplog):
    sweep = make_sweep(
        tmp_path,
        "hydra.sweeper.n_trials=30",
        "hydra.sweeper.patience=2",
        "hydra.sweeper.refit=true",
        "hydra.sweeper.report=false",
        outcome=lambda trial: {
            "status": "complete",
            "objective": 0.5,
            "test_acc": 0.4,
            "best_epoch": 1,
            "epochs_run": 1,
        },
    )
    with caplog.at_level("INFO", logger="cnnsweep"):
        coordinate(sweep)  # no SweepStopped: a converged study is a finished sweep
    assert len(sweep.study.trials) == 3 and sweep.stopped_by == []
    assert sweep.launcher.refits, "the refit still runs after an early stop"
    assert any(
        "stopped improving" in r.getMessage() and "patience=2" in r.getMessage() for r in caplog.records
    )
    assert yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())["best_trial"] == 0


def test_the_search_ends_early_enough_for_the_last_trials_tail_before_the_refit(tmp_path):
    """A trial stopped at the search's deadline still scores and saves: the typical tail of a
    trial (its whole time less its training) is kept back too, so the refit still fits."""
    from datetime import datetime, timedelta

    from optuna.trial import FrozenTrial, TrialState

    sweep = make_sweep(tmp_path, "hydra.sweeper.refit=true", deadline=time.time() + 3600)
    ended = datetime.now()
    metrics = {
        "state": "complete",
        "objective": 0.5,
        "train_seconds": 6.0,
        "best_epoch": 1,
        "images_per_second": 1000.0,
        "train_images": 800,
        "val_images": 200,
    }
    sweep.study.add_trial(
        FrozenTrial(
            number=0,
            state=TrialState.COMPLETE,
            value=0.5,
            datetime_start=ended - timedelta(seconds=10),
            datetime_complete=ended,
            params={},
            distributions={},
            user_attrs={records.ATTR: metrics},
            system_attrs={},
            intermediate_values={},
            trial_id=0,
        )
    )
    assert budget.typical_trial_tail_seconds(sweep.study) == pytest.approx(4.0)
    reserve = budget.refit_reserve(sweep)
    assert reserve > 0 and sweep.deadline - budget.search_deadline(sweep) == pytest.approx(reserve + 4.0)
