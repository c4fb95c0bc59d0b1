"""A study as plain records: ``trials.csv`` and ``optimization_results.yaml``.

The storage is the truth (it is shared by every worker and machine); each
trial's metrics are kept there as one user attribute when the trial is told.
This module is the only writer of both files (the report writes a
``trials.csv`` of several sweeps through :func:`write_trials_table` too).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from omegaconf import OmegaConf
from optuna.trial import FrozenTrial, TrialState

from cnnsweep.atomic import atomic_write_text, write_csv
from cnnsweep.numbers import finite_or_none, is_whole
from cnnsweep.run_files import RECORDED_METRICS
from cnnsweep.sweep.study.reruns import ABLATION_ATTR, confirm_runs
from cnnsweep.sweep.study.snapshot import StudyView

ATTR = "cnnsweep"  # one user attribute per trial: {"state": ..., "objective": ..., ...}
RECORDED = RECORDED_METRICS
RETRY_ATTR = "cnnsweep_retry_of"  # a queued retry: the number of the trial it repeats
WORKER_ATTR = "cnnsweep_worker_pid"  # who runs the trial: a worker's pid, or "slurm-<job id>"
BASELINE_ATTR = "cnnsweep_baseline"  # a configuration the sweep file asked to try first
WARM_START_ATTR = "cnnsweep_warm_start"  # a configuration of an earlier study, tried first
TOLD_ATTR = "cnnsweep_told_from"  # an earlier study's finished trial, told as a past trial
ABANDONED_ATTR = "cnnsweep_abandoned"  # why a trial stopped without a result (then retried)
BEATING_ATTR = "cnnsweep_beating"  # shared storage: the trial's heartbeat thread has started
SURPLUS_ATTR = "cnnsweep_surplus"  # asked beyond n_trials while another worker took the last one
REFIT_ATTR = "cnnsweep_refit"  # a study attribute: the best trial retrained on every training image
REFIT_DIR_PREFIX = "refit-"  # its folder in the sweep dir: refit-<trial number>
ENSEMBLE_ATTR = "cnnsweep_ensemble"  # a study attribute: the refit and best trials averaged
CONFIRMED_ATTR = "cnnsweep_confirmed"  # a study attribute: the confirmation's statistics
TRIALS_FILE = "trials.csv"
RESULTS_FILE = "optimization_results.yaml"


def single_objective(study: StudyView) -> bool:
    """One objective: one best trial (several objectives have a Pareto front instead)."""
    return len(study.directions) == 1


def metrics_of(trial: FrozenTrial) -> dict[str, Any]:
    """What cnnsweep recorded when it told the trial (state and metrics), or {}.

    Kept as one user attribute: each attribute is a storage transaction, and a
    dozen of them cost more than a tenth of a second per trial on SQLite.
    """
    return trial.user_attrs.get(ATTR) or {}


def interrupted(trial: FrozenTrial) -> bool:
    """Failed without being told by cnnsweep: its worker died mid-trial."""
    return trial.state == TrialState.FAIL and ATTR not in trial.user_attrs


def interruption(trial: FrozenTrial) -> str:
    """Why an interrupted trial has no result, for trials.csv and the report."""
    reason = trial.user_attrs.get(ABANDONED_ATTR, "the worker stopped before the trial finished")
    return f"interrupted: {reason}"


def trial_state(trial: FrozenTrial) -> str:
    if trial.state in (TrialState.RUNNING, TrialState.WAITING):
        return "running" if trial.state == TrialState.RUNNING else "waiting"
    if ATTR in trial.user_attrs:
        return metrics_of(trial).get("state", "failed")
    return {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned"}.get(trial.state, "failed")


def told(trial: FrozenTrial) -> bool:
    """A finished trial of an earlier study, added so the sampler starts informed
    (``warm_start.tell``): it trained elsewhere, so it is no row, count or best of this sweep."""
    return TOLD_ATTR in trial.user_attrs


def surplus(trial: FrozenTrial) -> bool:
    """A trial a worker asked for while another took the last of ``n_trials``: given back at
    once, never trained, no row or count of the sweep."""
    return SURPLUS_ATTR in trial.user_attrs


def own_trials(study: StudyView, states: Sequence[TrialState] | None = None) -> list[FrozenTrial]:
    """The study's trials that this sweep ran or runs (told trials of an earlier study and
    surplus trials aside)."""
    return [t for t in study.get_trials(deepcopy=False, states=states) if not told(t) and not surplus(t)]


def counts_toward_budget(trial: FrozenTrial) -> bool:
    return trial.state.is_finished() and not interrupted(trial) and not told(trial) and not surplus(trial)


def trial_rows(study: StudyView, param_keys: Sequence[str]) -> list[dict[str, Any]]:
    rows = []
    for trial in own_trials(study):
        if trial.state == TrialState.WAITING:
            continue
        attrs = {**trial.user_attrs, **metrics_of(trial)}
        row: dict[str, Any] = {"trial_number": trial.number, "state": trial_state(trial)}
        for key in param_keys:
            row[key] = trial.params.get(key)
        for key in RECORDED:
            row[key] = attrs.get(key)
        if interrupted(trial):
            row["error"] = interruption(trial)
        row["retry_of"] = attrs.get(RETRY_ATTR)
        row["started"] = trial.datetime_start.isoformat(timespec="seconds") if trial.datetime_start else None
        rows.append(row)
    return rows


def write_trials_csv(sweep_dir: Path, study: StudyView, param_keys: Sequence[str]) -> Path:
    """``trials.csv`` of a study: one row per trial, every state but waiting."""
    import pandas as pd

    columns = ["trial_number", "state", *param_keys, *RECORDED, "retry_of", "started"]
    rows = trial_rows(study, param_keys)
    return write_trials_table(keep_integers(pd.DataFrame(rows, columns=columns), rows), sweep_dir)


def keep_integers(table: Any, rows: Sequence[Mapping[str, Any]]) -> Any:
    """``table`` with every column whose values in ``rows`` are all integers as pandas'
    nullable Int64: 32 stays 32, not 32.0, when another row has no value."""
    for column in table.columns:
        values = [row.get(column) for row in rows if row.get(column) is not None]
        if values and all(is_whole(v) for v in values):
            table[column] = table[column].astype("Int64")
    return table


def write_trials_table(table: Any, out_dir: Path) -> Path:
    """Write a trials DataFrame as ``out_dir/trials.csv``, atomically."""
    return write_csv(table, out_dir / TRIALS_FILE)


def state_counts(study: StudyView) -> dict[str, int]:
    """How many trials are in each state (``complete``, ``pruned``, ..., ``running``), queued
    ones aside, in the order of their first trial."""
    states: dict[str, int] = {}
    for trial in own_trials(study):
        if trial.state != TrialState.WAITING:
            states[trial_state(trial)] = states.get(trial_state(trial), 0) + 1
    return states


def complete_trials(study: StudyView) -> list[FrozenTrial]:
    """The trials that trained to their end with an objective (never infeasible ones)."""
    return [
        t
        for t in own_trials(study, states=(TrialState.COMPLETE,))
        if metrics_of(t).get("state", "complete") == "complete"
    ]


def ranked_trials(study: StudyView) -> list[FrozenTrial]:
    """A single-objective study's complete trials, best objective first (ties: earlier first)."""
    sign = 1 if study.direction == optuna.study.StudyDirection.MAXIMIZE else -1
    return sorted(complete_trials(study), key=lambda t: (-sign * float(t.values[0]), t.number))


def best_trials(study: StudyView) -> list[FrozenTrial]:
    """The best complete trial by its single run (or the Pareto front of several objectives)."""
    if single_objective(study):
        return ranked_trials(study)[:1]
    complete = complete_trials(study)
    return [t for t in study.best_trials if t in complete] if complete else []


def chosen_best(study: StudyView) -> FrozenTrial | None:
    """The configuration a single-objective sweep recommends: the best confirmed mean where
    ``hydra.sweeper.confirm`` ran, else the best single run. Every "best" a sweep names (its
    records, log, report, command, refit and tracker) is this one."""
    best = the_best(study)
    return best.trial if best is not None else None


@dataclass(frozen=True)
class Best:
    """The sweep's one answer, and what its value stands on."""

    trial: FrozenTrial
    value: float | None  # the confirmed mean of its new-seed runs, or its single run's objective
    test_acc: float | None  # likewise: the mean over the new runs, or the single run's
    runs: int  # how many runs the value averages (1: the search's single run)
    confirmed: bool

    @property
    def basis(self) -> str:
        return f"mean of {self.runs} new-seed runs" if self.confirmed else "one run"


def the_best(study: StudyView) -> Best | None:
    """The best of a single-objective sweep: the confirmation's winner where it ran (its value
    the mean of its new-seed runs), else the best single run; None without a complete trial."""
    if not single_objective(study):
        return None
    confirmed = study.user_attrs.get(CONFIRMED_ATTR) or {}
    if confirmed.get("best_trial") is not None:
        number = int(confirmed["best_trial"])
        configs = confirmed.get("configs") or []
        config: dict[str, Any] = next((c for c in configs if c.get("trial") == number), {})
        new_runs = [
            r
            for r in confirm_runs(study).values()
            if r.get("trial") == number and not r.get("original") and r.get("status") == "complete"
        ]
        accs = [float(r["test_acc"]) for r in new_runs if isinstance(r.get("test_acc"), int | float)]
        return Best(
            trial=study.get_trials(deepcopy=False)[number],
            value=finite_or_none(config.get("mean")),
            test_acc=sum(accs) / len(accs) if accs else None,
            runs=int(config.get("runs") or 0),
            confirmed=True,
        )
    best = best_trials(study)
    if not best:
        return None
    return Best(
        trial=best[0],
        value=finite_or_none(best[0].value),
        test_acc=metrics_of(best[0]).get("test_acc"),
        runs=1,
        confirmed=False,
    )


def stalled_for(study: StudyView, min_delta: float) -> int:
    """How many trials finished (complete or pruned, in the order they ended) since the last
    one that beat the best before it by more than ``min_delta``; 0 while no trial is complete.

    Failed and infeasible trials do not count: they say nothing about the space's best.
    """
    sign = 1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else -1.0
    finished = [
        t
        for t in own_trials(study, states=(TrialState.COMPLETE, TrialState.PRUNED))
        if trial_state(t) in ("complete", "pruned") and t.datetime_complete is not None
    ]
    best: float | None = None
    since = 0
    for trial in sorted(finished, key=lambda t: (t.datetime_complete, t.number)):
        value = trial.value if trial_state(trial) == "complete" else None
        if value is not None and math.isfinite(value) and (best is None or sign * (value - best) > min_delta):
            best, since = value, 0
        else:
            since += 1
    return since if best is not None else 0


def write_optimization_results(
    sweep_dir: Path,
    study: StudyView,
    objectives: Sequence[str],
    storage_url: str,
    n_trials: int | None = None,
    best_command: str | None = None,
) -> Path:
    """``optimization_results.yaml``: the study's states, its best trial (or Pareto front),
    the command that reproduces the best trial, the refit and the ensemble."""
    states = state_counts(study)
    directions = [d.name.lower() for d in study.directions]
    results: dict[str, Any] = {
        "name": study.study_name,
        "storage": storage_url,
        "objectives": list(objectives),
        "directions": directions,
        "n_trials": n_trials,
        "trials": states,
    }
    if single_objective(study):
        best = the_best(study)
        results["best_trial"] = best.trial.number if best else None
        results["best_value"] = best.value if best else None
        results["best_value_is"] = best.basis if best else None
        results["best_params"] = dict(best.trial.params) if best else {}
        results["best_test_acc"] = best.test_acc if best else None
        results["best_command"] = best_command if best else None
        single = best_trials(study)
        if best is not None and best.confirmed and single:  # what the search alone would have said
            results["best_single_run"] = {
                "trial": single[0].number,
                "value": finite_or_none(single[0].value),
                "test_acc": metrics_of(single[0]).get("test_acc"),
                "params": dict(single[0].params),
            }
        if confirmed := study.user_attrs.get(CONFIRMED_ATTR):
            results["confirmed"] = confirmed  # the best configurations again, with new seeds
        if ablation := study.user_attrs.get(ABLATION_ATTR):
            results["ablation"] = ablation  # the measured path from the baseline to the best
        if refit := study.user_attrs.get(REFIT_ATTR):
            results["refit"] = {  # the best configuration trained on train + validation images
                "trial": refit.get("trial"),
                "epochs": refit.get("epochs"),
                "dir": refit.get("dir"),
                "status": refit.get("status"),
                "test_acc": refit.get("test_acc"),
                **({"error": refit["error"]} if refit.get("error") else {}),
            }
        if ensemble := study.user_attrs.get(ENSEMBLE_ATTR):
            results["ensemble"] = ensemble  # their class probabilities averaged, scored on test
    else:
        results["pareto_front"] = [
            {"trial": t.number, "values": [finite_or_none(v) for v in t.values], "params": dict(t.params)}
            for t in best_trials(study)
        ]
    target = sweep_dir / RESULTS_FILE
    atomic_write_text(target, OmegaConf.to_yaml(OmegaConf.create(results)))
    return target
