"""``hydra.sweeper.confirm``: the best configurations trained again with new seeds.

    python -m cnnsweep --multirun +sweep=seed_cnn hydra.sweeper.confirm.top_k=3 hydra.sweeper.confirm.seeds=3

After the search, the ``top_k`` complete trials with the best objective are each
trained ``seeds`` more times, with seeds no trial of the sweep uses, each run a
normal run dir under ``confirm/``. Their objectives say how large the seed-to-seed
noise is and whether the best configuration is distinguishable from the runner-up
(:mod:`cnnsweep.analysis.repeats`); the trial that selected each configuration is
recorded beside them (``confirm.csv``'s ``original``) but never counted, since it
is the run that won the selection. Every finished run
is kept in the study, so a resume runs only what is missing; a time budget keeps
back what the runs need, and a confirmation that does not fit is cut to what does.
With ``n_jobs > 1`` the runs go to as many local processes at once, and with SLURM
workers to SLURM jobs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from optuna.trial import FrozenTrial

from cnnsweep.analysis import repeats
from cnnsweep.sweep import after_runs, budget
from cnnsweep.sweep.overrides import seeded_overrides, trial_overrides
from cnnsweep.sweep.study import lifecycle as studies
from cnnsweep.sweep.study import records, reruns
from cnnsweep.timing import format_seconds

if TYPE_CHECKING:
    from cnnsweep.sweep.state import Sweep

log = logging.getLogger("cnnsweep")

CONFIRM_DIR = "confirm"  # in the sweep dir: confirm/<trial>-seed<seed>/, one run dir each


def original_seed(sweep: Sweep, trial: FrozenTrial) -> int:
    """The seed ``trial`` trained with (its searched one, or its override's)."""
    if "trainer.seed" in trial.params:
        return int(trial.params["trainer.seed"])
    fixed = [o for o in trial_overrides(sweep.settings, trial) if o.startswith("trainer.seed=")]
    return int(fixed[-1].split("=", 1)[1]) if fixed else sweep.settings.run.trial_seed(trial.number)


def confirm(sweep: Sweep) -> repeats.Confirmation | None:
    """Run what is missing of the confirmation and store its statistics in the study.

    Raises:
        KeyboardInterrupt: Ctrl-C; the finished runs are kept (and not repeated on resume).
    """
    settings, study = sweep.settings, sweep.study
    if not settings.confirm.top_k:
        return None
    if not settings.single_objective:
        log.info("confirm skipped: a multi-objective sweep has no single best configuration")
        return None
    top = budget.confirm_top(sweep)
    if not top:
        log.info("confirm skipped: no complete trial")
        return None
    if len(top) < settings.confirm.top_k:
        log.info(
            "confirm: only %d distinct configuration%s completed, so %d instead of "
            "hydra.sweeper.confirm.top_k=%d",
            len(top),
            "s" * (len(top) != 1),
            len(top),
            settings.confirm.top_k,
        )
    for trial in top:  # the selecting run, shown beside the new ones (never counted)
        reruns.record_confirm_run(
            study,
            trial.number,
            original_seed(sweep, trial),
            {
                "status": "complete",
                "objective": trial.value,
                "test_acc": records.metrics_of(trial).get("test_acc"),
            },
            str(trial.number),
            original=True,
        )
    todo = _what_fits(sweep, budget.confirm_left(sweep))
    if todo:
        log.info(
            "confirm: %d run%s of the %d best configuration%s with new seeds",
            len(todo),
            "s" * (len(todo) != 1),
            len(top),
            "s" * (len(top) != 1),
        )
        if settings.several_writers:
            _run_elsewhere(sweep, todo)
        else:
            for trial, seed in todo:
                _run_here(sweep, trial, seed)
    return summarise(sweep)


def summarise(sweep: Sweep) -> repeats.Confirmation | None:
    """The statistics of the runs stored so far; kept in the study for the records."""
    study = sweep.study
    runs: dict[int, list[float]] = {}
    selecting: dict[int, float] = {}
    for run in reruns.confirm_runs(study).values():
        if not budget.finished(run):
            continue
        if run.get("original"):
            selecting[int(run["trial"])] = float(run["objective"])
        else:
            runs.setdefault(int(run["trial"]), []).append(float(run["objective"]))
    summary = repeats.summarise(
        runs,
        maximize=sweep.settings.directions[0] == "maximize",
        selecting=selecting,
        resolution=_resolution(sweep, runs),
    )
    if summary is not None:
        study.set_user_attr(
            records.CONFIRMED_ATTR,
            reruns.confirmation_record(summary, summary.verdict(sweep.settings.objective_label)),
        )
    return summary


def _resolution(sweep: Sweep, runs: dict[int, list[float]]) -> float | None:
    """One validation image's share of an accuracy (the smallest step it can move), or None
    for another objective or when the runs did not say how many images they validated on."""
    if not sweep.settings.objective_label.endswith("acc") or not runs:
        return None
    images = [records.metrics_of(studies.frozen(sweep.study, trial)).get("val_images") for trial in runs]
    counts = [int(n) for n in images if isinstance(n, int | float) and n > 0]
    return 1.0 / max(counts) if counts else None


def _what_fits(sweep: Sweep, todo: list[tuple[FrozenTrial, int]]) -> list[tuple[FrozenTrial, int]]:
    """``todo`` cut to the runs that end before the sweep's deadline (less the refit's time)."""
    if sweep.deadline is None or not todo:
        return todo
    left = sweep.deadline - time.time() - budget.refit_reserve(sweep)
    fits, spent = [], 0.0
    for trial, seed in todo:
        cost = budget.confirm_run_seconds(records.metrics_of(trial)) / max(1, sweep.settings.n_jobs)
        if spent + cost > left:
            break
        fits.append((trial, seed))
        spent += cost
    if len(fits) < len(todo):
        log.warning(
            "confirm: cut to %d of %d runs: the other %d would overrun hydra.sweeper.timeout (about %s each)",
            len(fits),
            len(todo),
            len(todo) - len(fits),
            format_seconds(budget.confirm_run_seconds(records.metrics_of(todo[0][0]))),
        )
    return fits


def _subdir(trial: int, seed: int) -> str:
    return f"{CONFIRM_DIR}/{trial}-seed{seed}"


def _run_here(sweep: Sweep, trial: FrozenTrial, seed: int) -> None:
    """One confirmation run as a Hydra job of this process (``n_jobs=1``)."""
    subdir = _subdir(trial.number, seed)
    log.info("confirm: trial %d's configuration with seed %d", trial.number, seed)
    metrics = after_runs.run_here(sweep, lambda hooks: sweep.launcher.confirm(trial, seed, subdir, hooks))
    reruns.record_confirm_run(sweep.study, trial.number, seed, metrics, subdir)


def _run_elsewhere(sweep: Sweep, todo: list[tuple[FrozenTrial, int]]) -> None:
    """The runs as single-run commands where the sweep's workers run."""

    def record(index: int, metrics: Mapping[str, Any]) -> None:
        trial, seed = todo[index]
        reruns.record_confirm_run(sweep.study, trial.number, seed, metrics, _subdir(trial.number, seed))

    for trial, seed in todo:
        log.info("confirm: trial %d's configuration with seed %d", trial.number, seed)
    runs = [
        (seeded_overrides(sweep.settings, trial, seed), _subdir(trial.number, seed)) for trial, seed in todo
    ]
    after_runs.run_elsewhere(sweep, runs, "confirm", record)
