"""``hydra.sweeper.ablation``: why is the best configuration best? Measure it.

    python -m cnnsweep --multirun +sweep=seed_cnn hydra.sweeper.ablation.seeds=2

After the search (and the confirmation, whose winner is the best), the path from
the baseline (the first of ``baselines``, else the composed defaults) to the best
configuration changes one differing setting at a time, the change the trials
suggest gains most first (:func:`predicted_gains`), and trains every configuration
on the path ``seeds`` times with new seeds (the same seeds for every step, so the
steps differ in their setting alone), each a run dir under ``ablation/``. A step
whose configuration cannot be built is merged with the next one and says so. The
numbers are :mod:`cnnsweep.analysis.ablation`'s. Like the confirmation: every
finished run is kept in the study, so a resume runs only what is missing; a time
budget keeps back the path's cost and cuts the runs to what fits (every step's first
seed first); with several workers the runs go to local processes or SLURM jobs.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cnnsweep.analysis import ablation
from cnnsweep.sweep import after_runs, budget
from cnnsweep.sweep.overrides import config_overrides
from cnnsweep.sweep.study import records, reruns
from cnnsweep.timing import format_seconds

if TYPE_CHECKING:
    from cnnsweep.sweep.state import Sweep

log = logging.getLogger("cnnsweep")

ABLATION_DIR = "ablation"  # in the sweep dir: ablation/<step>-seed<seed>/, one run dir each
SEED_BLOCK = 2 * budget.CONFIRM_SEED_BLOCK  # the path's seeds start this far above trainer.seed


@dataclass(frozen=True)
class Configuration:
    """One configuration on the path: the values of every searched key, and what it changed."""

    step: int
    changed: str  # the setting changed from the step before ("" for the baseline)
    params: Mapping[str, Any]

    @property
    def key(self) -> str:
        """The configuration's identity in the study's records: its values, not its place."""
        return json.dumps({k: self.params[k] for k in sorted(self.params)}, sort_keys=True, default=str)


def path_seeds(sweep: Sweep) -> list[int]:
    """The path's seeds: the same for every step, and no trial's or confirmation's."""
    first = sweep.settings.run.base_seed + SEED_BLOCK
    return [first + index for index in range(sweep.settings.ablation.seeds)]


def predicted_gains(sweep: Sweep, baseline: Mapping[str, Any], best: Mapping[str, Any]) -> dict[str, float]:
    """Each differing setting's gain as the trials suggest it: the mean objective of the complete
    trials with the best's value minus that of the trials with the baseline's (better: positive)."""
    trials = records.complete_trials(sweep.study)
    sign = 1.0 if sweep.settings.directions[0] == "maximize" else -1.0
    gains = {}
    for key in best:
        with_best = [float(t.values[0]) for t in trials if str(t.params.get(key)) == str(best[key])]
        with_base = [float(t.values[0]) for t in trials if str(t.params.get(key)) == str(baseline.get(key))]
        if with_best and with_base:
            gains[key] = sign * (sum(with_best) / len(with_best) - sum(with_base) / len(with_base))
    return gains


def plan(sweep: Sweep) -> list[Configuration]:
    """The configurations of the path, the baseline first and the best last (empty: nothing to do)."""
    settings = sweep.settings
    if not settings.ablation.seeds or not settings.single_objective:
        return []
    best = records.chosen_best(sweep.study)
    if best is None:
        return []
    baseline = {key: settings.ablation.baseline.get(key, value) for key, value in best.params.items()}
    changes = [key for key in best.params if str(baseline[key]) != str(best.params[key])]
    order = ablation.path_order(changes, predicted_gains(sweep, baseline, best.params))
    path = [Configuration(0, "", baseline)]
    current = dict(baseline)
    for index, key in enumerate(order, start=1):
        current = {**current, key: best.params[key]}
        path.append(Configuration(index, key, current))
    return path


def left(sweep: Sweep) -> list[tuple[Configuration, int]]:
    """The runs of the path of the best configuration so far that are not done yet, each step's
    first seed first."""
    path = plan(sweep)
    if len(path) < 2:
        return []
    done = reruns.ablation_runs(sweep.study)
    return [
        (config, seed)
        for seed in path_seeds(sweep)
        for config in path
        if not _ended(done.get(_run_key(config, seed)))
    ]


def run(sweep: Sweep) -> ablation.Path | None:
    """Train what is missing of the path and store its statistics in the study.

    Raises:
        KeyboardInterrupt: Ctrl-C; the finished runs are kept (and not repeated on resume).
    """
    path = plan(sweep)
    if not path:
        if sweep.settings.ablation.seeds:
            log.info(
                "ablation skipped: %s",
                "a multi-objective sweep has no single best"
                if not sweep.settings.single_objective
                else "no complete trial",
            )
        return None
    if len(path) == 1:
        log.info("ablation skipped: the best configuration is the baseline")
        return None
    todo = _what_fits(sweep, left(sweep))
    if todo:
        log.info(
            "ablation: %d run%s of a %d-step path from the baseline to the best configuration",
            len(todo),
            "s" * (len(todo) != 1),
            len(path) - 1,
        )
        if sweep.settings.several_writers:
            _run_elsewhere(sweep, todo)
        else:
            for config, seed in todo:
                _run_here(sweep, config, seed)
    return summarise(sweep, path)


def summarise(sweep: Sweep, path: list[Configuration]) -> ablation.Path:
    """The path's statistics from the runs stored so far; kept in the study for the records.
    A configuration that could not be built is merged into the next step."""
    done = reruns.ablation_runs(sweep.study)
    steps: list[tuple[str, str, str, list[float], str]] = []
    merged: list[Configuration] = []
    previous = path[0]
    for config in path:
        runs = [run for seed in path_seeds(sweep) if (run := done.get(_run_key(config, seed))) is not None]
        blocked = any(r.get("status") == "infeasible" for r in runs)
        if config.step and blocked and config is not path[-1]:
            merged.append(config)  # cannot be built alone: its change goes with the next one
            continue
        values = [float(r["objective"]) for r in runs if budget.finished(r)]
        changed = [c.changed for c in (*merged, config) if c.changed]
        note = f"merged: {' and '.join(c.changed for c in merged)} alone cannot be built" if merged else ""
        steps.append(
            (" + ".join(changed), _values(previous, changed), _values(config, changed), values, note)
        )
        merged, previous = [], config
    summary = ablation.summarise(steps, maximize=sweep.settings.directions[0] == "maximize")
    words = ablation.in_words(summary, points=sweep.settings.objective_label.endswith("acc"))
    sweep.study.set_user_attr(
        reruns.ABLATION_ATTR,
        {
            "baseline": {k: _plain(v) for k, v in path[0].params.items()},
            "best_trial": best.number if (best := records.chosen_best(sweep.study)) is not None else None,
            "seeds": sweep.settings.ablation.seeds,
            "total_gain": summary.total_gain,
            "total_ci95": list(summary.total_ci95) if summary.total_ci95 else None,
            "noise_std": summary.noise_std,
            "in_words": words,
            "steps": summary.frame_rows(),
        },
    )
    if words:
        log.info("ablation: %s", words)
    return summary


def _values(config: Configuration, keys: list[str]) -> str:
    return ", ".join(str(config.params[k]) for k in keys)


def _plain(value: Any) -> Any:
    return value if isinstance(value, int | float | str | bool) or value is None else str(value)


def _run_key(config: Configuration, seed: int) -> str:
    return f"{config.key}|{seed}"


def _ended(run: Mapping[str, Any] | None) -> bool:
    """A stored run that needs no repeat: finished with an objective, or not buildable at all."""
    return budget.finished(run) or (run is not None and run.get("status") == "infeasible")


def _subdir(config: Configuration, seed: int) -> str:
    return f"{ABLATION_DIR}/{config.step}-seed{seed}"


def _what_fits(sweep: Sweep, todo: list[tuple[Configuration, int]]) -> list[tuple[Configuration, int]]:
    """``todo`` cut to the runs that end before the sweep's deadline (less the refit's time)."""
    best = records.chosen_best(sweep.study)
    if sweep.deadline is None or not todo or best is None:
        return todo
    cost = budget.confirm_run_seconds(records.metrics_of(best)) / max(1, sweep.settings.n_jobs)
    room = sweep.deadline - time.time() - budget.refit_reserve(sweep)
    fits = todo[: max(0, int(room // cost))] if cost > 0 else todo
    if len(fits) < len(todo):
        log.warning(
            "ablation: cut to %d of %d runs: the other %d would overrun hydra.sweeper.timeout "
            "(about %s each)",
            len(fits),
            len(todo),
            len(todo) - len(fits),
            format_seconds(cost * max(1, sweep.settings.n_jobs)),
        )
    return fits


def _run_here(sweep: Sweep, config: Configuration, seed: int) -> None:
    """One run of the path as a Hydra job of this process (``n_jobs=1``)."""
    subdir = _subdir(config, seed)
    log.info("ablation: step %d (%s) with seed %d", config.step, config.changed or "the baseline", seed)
    best = records.chosen_best(sweep.study)
    number = best.number if best else 0
    metrics = after_runs.run_here(
        sweep, lambda hooks: sweep.launcher.ablate(number, config.params, seed, subdir, hooks)
    )
    reruns.record_ablation_run(sweep.study, _run_key(config, seed), config.step, seed, metrics, subdir)


def _run_elsewhere(sweep: Sweep, todo: list[tuple[Configuration, int]]) -> None:
    """The runs as single-run commands where the sweep's workers run."""

    def record(index: int, metrics: Mapping[str, Any]) -> None:
        config, seed = todo[index]
        reruns.record_ablation_run(
            sweep.study, _run_key(config, seed), config.step, seed, metrics, _subdir(config, seed)
        )

    for config, seed in todo:
        log.info("ablation: step %d (%s) with seed %d", config.step, config.changed or "the baseline", seed)
    runs = [
        (config_overrides(sweep.settings, config.params, seed), _subdir(config, seed))
        for config, seed in todo
    ]
    after_runs.run_elsewhere(sweep, runs, "ablation", record)
