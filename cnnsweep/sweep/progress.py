"""What the coordinator writes and prints while and after a sweep runs.

One progress line per finished trial (each count once, in order), ``trials.csv``
and ``optimization_results.yaml`` after every trial (at most every
:data:`RECORDS_EVERY_S` seconds: each write reads every trial, and short trials
would spend more time there than training), the report at the end, and a
closing summary. A failure to write any of them never costs the sweep: the
storage holds the truth and ``python -m cnnsweep.report`` rebuilds the rest.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from cnnsweep.sweep.study import lifecycle as studies
from cnnsweep.sweep.study import records, reruns
from cnnsweep.sweep.study.snapshot import Snapshot, StudyView
from cnnsweep.sweep.study.storage import mask_password
from cnnsweep.timing import format_seconds

if TYPE_CHECKING:
    from cnnsweep.sweep.state import Sweep

log = logging.getLogger("cnnsweep")

RECORDS_EVERY_S = 2.0  # the records lag the storage by at most this much while a sweep runs


class Progress:
    """One line per trial that ends in this command, each count printed once and in order,
    counting on from the trials already done (whatever ran them, with whatever ``n_jobs``)."""

    def __init__(self, sweep: Sweep) -> None:
        self.sweep = sweep
        self.done_before = {
            t.number for t in sweep.study.get_trials(deepcopy=False) if records.counts_toward_budget(t)
        }  # ended before this command
        self.done_at_start = len(self.done_before)
        self.started = time.monotonic()
        self.reported: set[int] = set()  # each count is done_at_start + how many are in here
        self.records_written = float("-inf")  # time.monotonic() of the last write_records

    def report_new(self) -> None:
        """Report every finished trial not reported yet (trials of worker processes)."""
        for trial in self.sweep.study.get_trials(deepcopy=False):
            if trial.number not in self.reported and records.counts_toward_budget(trial):
                self.report(trial.number)

    def report(self, number: int) -> None:
        if number in self.reported or number in self.done_before:
            return
        self.reported.add(number)
        settings = self.sweep.settings
        seen = Snapshot(self.sweep.study)  # the line and the records below, from one read
        trial = studies.frozen(seen, number)
        finished_here = len(self.reported)
        count = self.done_at_start + finished_here
        value = records.metrics_of(trial).get("objective")
        left = max(0, settings.n_trials - count)
        elapsed = time.monotonic() - self.started
        eta = elapsed / finished_here * left if finished_here else 0.0
        bound = ""
        if self.sweep.deadline is not None and left and eta > self.sweep.deadline - time.time():
            eta, bound = max(0.0, self.sweep.deadline - time.time()), " (the time budget)"
        value_text = f"{settings.objective_label} {value:.4f}" if isinstance(value, float) else "-"
        log.info(
            "[trial %d] %-10s %s  %s  %d/%d done, %d left, ETA %s%s",
            number,
            records.trial_state(trial),
            value_text,
            studies.best_value_text(seen),
            count,
            settings.n_trials,
            left,
            format_seconds(eta),
            bound,
        )
        if time.monotonic() - self.records_written >= RECORDS_EVERY_S:
            write_records(self.sweep, seen)
            self.records_written = time.monotonic()
        self.sweep.tracker.progress()


def write_records(sweep: Sweep, seen: Snapshot | None = None) -> None:
    """``trials.csv`` and ``optimization_results.yaml`` (from ``seen``, else a new read of the
    study); a failure never costs the sweep."""
    settings = sweep.settings
    try:
        seen = seen or Snapshot(sweep.study)
        settings.sweep_dir.mkdir(parents=True, exist_ok=True)
        records.write_trials_csv(settings.sweep_dir, seen, settings.param_keys)
        reruns.write_confirm_csv(settings.sweep_dir, seen)
        reruns.write_ablation_csv(settings.sweep_dir, seen)
        records.write_optimization_results(
            settings.sweep_dir,
            seen,
            settings.objectives,
            mask_password(sweep.storage.url),
            settings.n_trials,
            best_command(sweep, seen),
        )
    except Exception as exc:  # records are rebuilt from the storage; never lose the sweep
        log.warning("could not write trials.csv / optimization_results.yaml: %s", exc)


def best_command(sweep: Sweep, seen: StudyView | None = None) -> str | None:
    """The single-run command that trains the best trial again: the overrides its saved config
    was composed from (every fixed override, its searched values, its seed, its subset epochs)."""
    import shlex

    best = records.chosen_best(seen or sweep.study)
    if not sweep.settings.single_objective or best is None:
        return None
    overrides = sweep.launcher.overrides(best)
    return " ".join(["python -m cnnsweep", *(shlex.quote(mask_password(o)) for o in overrides)])


def write_report(sweep: Sweep) -> None:
    """report.html and its plots; a failure here never costs the sweep's results."""
    settings = sweep.settings
    if not settings.report:
        return
    if not any(records.counts_toward_budget(t) for t in sweep.study.get_trials(deepcopy=False)):
        return
    try:
        from cnnsweep.report.build import build_report

        report = build_report([settings.sweep_dir], settings.sweep_dir)
        log.info("report: %s", report)
    except Exception as exc:
        log.warning(
            "the report could not be built (%s: %s); the sweep's results are intact. "
            "Rebuild it with: python -m cnnsweep.report %s",
            type(exc).__name__,
            exc,
            settings.sweep_dir,
        )


def summarise(sweep: Sweep) -> None:
    """The closing lines: the sweep's one best (the confirmed one where the confirmation ran),
    how many trials ended in each state, and whether the winner is clear."""
    settings, study = sweep.settings, Snapshot(sweep.study)
    best = records.the_best(study)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(records.state_counts(study).items()))
    if best is not None:
        value = f"{best.value:.4f}" if best.value is not None else "-"
        test_acc = f"{best.test_acc:.4f}" if isinstance(best.test_acc, float) else "-"
        log.info(
            "best trial %d: %s %s (%s), test_acc %s, %s",
            best.trial.number,
            settings.objective_label,
            value,
            best.basis,
            test_acc,
            " ".join(f"{key}={value}" for key, value in best.trial.params.items()),
        )
        single = records.best_trials(study)
        if best.confirmed and single and single[0].number != best.trial.number:
            log.info(
                "(the best single run, trial %d at %.4f, did not hold up with new seeds)",
                single[0].number,
                single[0].value,
            )
        log.info("train it again: %s", best_command(sweep, study))
        if caution := _budget_caution(study):
            log.warning("%s", caution)
    log.info("sweep done (%s). outputs: %s", counts, settings.sweep_dir)
    if confirmed := study.user_attrs.get(records.CONFIRMED_ATTR):
        log.info("%s", confirmed["verdict"])  # the last word: is the winner clear?


def _budget_caution(study: StudyView) -> str | None:
    """The report's warning of a search the time budget cut too short, from the study."""
    from cnnsweep.analysis.trials import budget_caution

    trials = [t for t in study.get_trials(deepcopy=False) if not records.told(t)]
    stopped = [records.metrics_of(t).get("stopped_by") for t in trials]
    ended = sum(
        records.trial_state(t) == "complete" and not by for t, by in zip(trials, stopped, strict=True)
    )
    return budget_caution(ended, len(trials), stopped.count("deadline"))
