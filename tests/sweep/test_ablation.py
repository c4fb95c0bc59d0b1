"""The ablation path in the sweep's loop, without Keras: its plan, its runs, its budget and its
resume, on an in-memory study with a launcher that answers at once (tests/sweep/test_loop.py's)."""

from __future__ import annotations

import time

import pandas as pd
import pytest
import yaml

from cnnsweep.errors import ConfigError
from cnnsweep.sweep import ablation, budget
from cnnsweep.sweep.loops import coordinate, work
from cnnsweep.sweep.study import records
from tests.sweep.composed import sweep_settings
from tests.sweep.test_loop import make_sweep

SEEDS = 3


def padding_matters(params, seed=0):
    """Only padding moves the objective (same: +10 points); each seed adds +-0.2 points."""
    return 0.80 + 0.10 * (params["model.padding"] == "same") + 0.002 * (seed % 3 - 1)


def _sweep(tmp_path, *overrides, **kwargs):
    sweep = make_sweep(
        tmp_path,
        "hydra.sweeper.n_trials=8",
        f"hydra.sweeper.ablation.seeds={SEEDS}",
        "hydra.sweeper.report=false",
        *overrides,
        outcome=lambda trial: {
            "status": "complete",
            "test_acc": 0.7,
            "train_seconds": 2.0,
            "objective": padding_matters(trial.params) + trial.number / 1e4,
        },
        **kwargs,
    )
    sweep.launcher.ablate_outcome = lambda params, seed: {
        "status": "complete",
        "objective": padding_matters(params, seed),
        "test_acc": 0.7,
    }
    return sweep


def test_the_path_starts_at_the_composed_defaults_and_ends_at_the_best(tmp_path):
    sweep = _sweep(tmp_path)
    work(sweep)
    path = ablation.plan(sweep)
    best = records.chosen_best(sweep.study)
    baseline = {
        "model.filters": 128,
        "model.kernel_size": 2,
        "model.strides": 1,
        "model.padding": "valid",
        "trainer.batch_size": 128,
    }  # model=seed and trainer=default, as composed
    assert dict(path[0].params) == {k: baseline[k] for k in best.params}
    assert dict(path[-1].params) == dict(best.params)
    changed = [c.changed for c in path[1:]]
    assert sorted(changed) == sorted(k for k in best.params if str(best.params[k]) != str(baseline[k]))
    assert changed[0] == "model.padding"  # the trials predict it gains most: it goes first
    for before, after in zip(path, path[1:], strict=False):  # one setting at a time
        assert [k for k in after.params if after.params[k] != before.params[k]] == [after.changed]


def test_one_setting_that_carries_the_whole_gain_gets_at_least_90_percent_of_it(tmp_path):
    sweep = _sweep(tmp_path)
    coordinate(sweep)
    table = pd.read_csv(tmp_path / "ablation.csv")
    padding = table[table["setting"] == "model.padding"].iloc[0]
    assert padding["share"] >= 0.9 and padding["gain"] == pytest.approx(0.10, abs=0.005)
    others = table[(table["step"] > 0) & (table["setting"] != "model.padding")]
    assert (others["share"].abs() < 0.1).all()
    assert padding["share_ci95_lo"] <= padding["share"] <= padding["share_ci95_hi"]
    results = yaml.safe_load((tmp_path / records.RESULTS_FILE).read_text())["ablation"]
    assert results["in_words"].startswith("model.padding: valid -> same carries 100%")
    assert results["total_gain"] == pytest.approx(0.10, abs=0.005)


def test_every_step_trains_the_same_new_seeds_no_trial_used(tmp_path):
    sweep = _sweep(tmp_path)
    coordinate(sweep)
    runs = sweep.launcher.ablations
    steps = len(ablation.plan(sweep))
    assert len(runs) == steps * SEEDS
    seeds = {seed for _, seed, _ in runs}
    trial_seeds = {sweep.settings.run.trial_seed(t.number) for t in sweep.study.trials}
    assert len(seeds) == SEEDS and not seeds & trial_seeds
    assert all(subdir.startswith("ablation/") and subdir.endswith(f"-seed{seed}") for _, seed, subdir in runs)
    assert len({subdir for _, _, subdir in runs}) == len(runs)  # each run its own folder


def test_a_resume_does_not_repeat_finished_runs_of_the_path(tmp_path):
    sweep = _sweep(tmp_path)
    coordinate(sweep)
    assert sweep.launcher.ablations
    sweep.launcher.ablations.clear()
    coordinate(sweep)
    assert sweep.launcher.ablations == []


def test_a_step_that_cannot_be_built_is_merged_with_the_next_and_says_so(tmp_path):
    sweep = _sweep(tmp_path)
    work(sweep)
    path = ablation.plan(sweep)
    assert len(path) >= 3
    blocked = path[1].changed

    def outcome(params, seed):
        if dict(params) == dict(path[1].params):
            return {"status": "infeasible", "error": "does not fit"}
        return {"status": "complete", "objective": padding_matters(params, seed)}

    sweep.launcher.ablate_outcome = outcome
    summary = ablation.run(sweep)
    assert len(summary.steps) == len(path) - 1  # the blocked configuration is no step of its own
    merged = summary.steps[1]
    assert merged.setting == f"{blocked} + {path[2].changed}" and "cannot be built" in merged.note


def test_the_search_keeps_back_the_paths_time_and_a_path_that_does_not_fit_is_cut(tmp_path, caplog):
    deadline = time.time() + 3600
    sweep = _sweep(tmp_path, deadline=deadline)
    work(sweep)
    best = records.chosen_best(sweep.study)
    per_run = budget.confirm_run_seconds(records.metrics_of(best))
    steps = len(ablation.plan(sweep))
    assert budget.search_deadline(sweep) == pytest.approx(deadline - steps * SEEDS * per_run, abs=0.01)
    sweep.deadline = time.time() + 2.5 * per_run
    with caplog.at_level("WARNING", logger="cnnsweep"):
        ablation.run(sweep)
    assert len(sweep.launcher.ablations) == 2  # the first seed of the first two steps
    assert any(f"cut to 2 of {steps * SEEDS} runs" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("value", [-1, 1001])
def test_a_bad_number_of_seeds_stops_before_anything_runs(value):
    with pytest.raises(ConfigError, match=r"hydra.sweeper.ablation.seeds=.* must be an integer from 0"):
        sweep_settings(f"hydra.sweeper.ablation.seeds={value}")


def test_the_first_baseline_is_where_the_path_starts(tmp_path):
    settings = sweep_settings(
        "hydra.sweeper.ablation.seeds=2", "hydra.sweeper.baselines=[{model.filters: 16, model.padding: same}]"
    )
    assert dict(settings.ablation.baseline) == {"model.filters": 16, "model.padding": "same"}
