"""The study: created or resumed, told how trials end.

Also the budget (``n_trials`` counts finished trials, across resumes and
machines), abandoning a trial whose worker died (failed, then queued once more),
and the failure-rate stop. Optuna's optimise-loop flags are used here only
(:func:`enter_optimize_loop`), where Optuna has no public API for an ask/tell loop.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState
from tenacity import retry, stop_after_attempt, wait_exponential

from cnnsweep.errors import ConfigError, UserError
from cnnsweep.sweep.settings.frozen import SweepSettings
from cnnsweep.sweep.study import records
from cnnsweep.sweep.study.snapshot import StudyView
from cnnsweep.sweep.study.storage import OpenStorage, mask_password

log = logging.getLogger("cnnsweep")

MIN_FINISHED_TO_JUDGE = 4  # max_failure_rate applies once this many trials have finished
CONSTRAINT = "architecture_infeasible"  # Optuna constraint: > 0 means the trial broke it


def check_space_unchanged(settings: SweepSettings, storage: Any) -> None:
    """Before a resumed study is touched: refuse a searched key whose choices changed.

    Optuna cannot mix a key's old and new choices in one study (it would fail the
    first new trial and leave it running). A numeric range that changed is allowed:
    the finished trials keep their values and the sampler models the new range.

    Raises:
        ConfigError: naming each changed key with its old and new space, and the ways on.
    """
    try:
        study_id = storage.get_study_id_from_name(settings.study_name)
    except KeyError:
        return  # a new study
    before: dict[str, optuna.distributions.BaseDistribution] = {}
    for trial in storage.get_all_trials(study_id, deepcopy=False):
        before.update(trial.distributions)
    changed, widened = [], []
    for key, now in settings.space.distributions.items():
        old = before.get(key)
        if old is None or old == now:
            continue
        if type(old) is not type(now) or isinstance(old, optuna.distributions.CategoricalDistribution):
            changed.append(f"{key} was {_space_text(old)}, now {_space_text(now)}")
        else:
            widened.append(f"{key} from {_space_text(old)} to {_space_text(now)}")
    if changed:
        raise ConfigError(
            f"the study {settings.study_name!r} in {settings.sweep_dir} searched another space: "
            f"{'; '.join(changed)}. Resume it with the old space, or start a new study with another "
            "hydra.sweep.dir (or hydra.sweeper.study_name).",
            key="hydra.sweeper.params",
        )
    for change in widened:
        log.info(
            "resuming with a changed range: %s (finished trials keep their values; the "
            "sampler models the new range)",
            change,
        )


def _space_text(distribution: optuna.distributions.BaseDistribution) -> str:
    if isinstance(distribution, optuna.distributions.CategoricalDistribution):
        return f"choice({', '.join(map(str, distribution.choices))})"
    low, high = distribution.low, distribution.high  # type: ignore[attr-defined]
    return f"{low}..{high}{' (log)' if getattr(distribution, 'log', False) else ''}"


def open_study(
    settings: SweepSettings,
    opened: OpenStorage,
    sampler: optuna.samplers.BaseSampler,
    pruner: optuna.pruners.BasePruner,
) -> optuna.Study:
    """The coordinator's study: created, or loaded to resume, with what it searches recorded
    and, when new, its baselines and warm start queued.

    Raises:
        UserError: the study cannot be created, or it optimises other directions.
    """
    check_space_unchanged(settings, opened.storage)
    warm_source = None
    if settings.warm_start is not None and _is_new(opened.storage, settings.study_name):
        from cnnsweep.sweep.study.warm_start import load_source

        warm_source = load_source(settings.warm_start)  # a bad source stops before the study exists
    study = load_study(settings, opened, sampler, pruner)
    if not study.get_trials(deepcopy=False):
        queued = list(settings.baselines[: settings.n_trials])
        for index, baseline in enumerate(queued):
            study.enqueue_trial(baseline, user_attrs={records.BASELINE_ATTR: index})
        if warm_source is not None:
            from cnnsweep.sweep.study.warm_start import queue_and_tell

            queue_and_tell(study, settings, warm_source, queued)
    elif settings.warm_start is not None:
        log.info(
            "hydra.sweeper.warm_start is used by a new study only: %r resumes with its own trials",
            settings.study_name,
        )
    study.set_user_attr("cnnsweep_objectives", list(settings.objectives))
    study.set_user_attr("cnnsweep_params", settings.param_keys)
    study.set_user_attr("cnnsweep_dataset", settings.run.dataset)
    return study


def load_study(
    settings: SweepSettings,
    opened: OpenStorage,
    sampler: optuna.samplers.BaseSampler,
    pruner: optuna.pruners.BasePruner,
) -> optuna.Study:
    """The study as it stands (a worker's, whose coordinator made it), created if it is missing.

    Raises:
        UserError: the study cannot be created, or it optimises other directions.
    """
    name = settings.study_name
    # Several machines may create the same study (and its tables) at once; the
    # loser of that race sees an integrity error and simply loads it next time.
    create = retry(stop=stop_after_attempt(5), wait=wait_exponential(multiplier=0.5, max=8), reraise=True)(
        optuna.create_study
    )
    try:
        study = create(
            storage=opened.storage,
            sampler=sampler,
            pruner=pruner,
            study_name=name,
            directions=list(settings.directions),  # type: ignore[arg-type]
            load_if_exists=True,
        )
    except Exception as exc:
        raise UserError(
            f"the study {name!r} cannot be created in {mask_password(opened.url)} "
            f"({type(exc).__name__}: {mask_password(str(exc).splitlines()[0][:200])}).",
            key="hydra.sweeper.storage",
        ) from None
    existing = [d.name.lower() for d in study.directions]
    if existing != list(settings.directions):
        raise ConfigError(
            f"the study {name!r} in this storage optimises {existing}, not "
            f"{list(settings.directions)}. Use another hydra.sweeper.study_name or "
            "hydra.sweep.dir.",
            key="hydra.sweeper.study_name",
        )
    return study


def _is_new(storage: Any, name: str) -> bool:
    """No study of that name yet, or one without a trial (a start that stopped early)."""
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        return True
    return not storage.get_all_trials(study_id, deepcopy=False)


def stalled(study: StudyView, settings: SweepSettings) -> str | None:
    """Why the study stops for ``hydra.sweeper.patience`` (one line), or None."""
    if settings.patience is None:
        return None
    since = records.stalled_for(study, settings.min_delta)
    if since < settings.patience:
        return None
    return (
        f"hydra.sweeper.patience={settings.patience}: the last {since} finished trials did not "
        f"improve the {best_value_text(study)} by more than min_delta={settings.min_delta:g}"
    )


def enter_optimize_loop(study: optuna.Study) -> None:
    """Flag the study as inside ``Study.optimize``, as an ask/tell loop must for samplers
    that stop the study (the grid sampler does once every point was tried)."""
    study._thread_local.in_optimize_loop = True
    study._stop_flag = False


def sampler_stopped(study: optuna.Study) -> bool:
    """True once the sampler stopped the study (see :func:`enter_optimize_loop`)."""
    return bool(study._stop_flag)


@dataclass
class Budget:
    done: int
    running: int
    waiting: int


def budget_of(study: StudyView) -> Budget:
    trials = study.get_trials(deepcopy=False)
    return Budget(
        done=sum(records.counts_toward_budget(t) for t in trials),
        running=sum(t.state == TrialState.RUNNING for t in trials),
        waiting=sum(t.state == TrialState.WAITING for t in trials),
    )


def within_budget(study: optuna.Study, trial: optuna.trial.Trial, n_trials: int) -> bool:
    """Whether ``trial``, just asked for, is one of the study's ``n_trials``: fewer than
    ``n_trials`` trials ahead of it (lower numbers) count, run or wait. Workers that asked at
    once see the same order, so exactly the trials beyond the budget step back, on every
    machine and storage: the study decides, not each worker's count."""
    claimed = (TrialState.RUNNING, TrialState.WAITING)
    ahead = sum(
        1
        for t in study.get_trials(deepcopy=False)
        if t.number < trial.number and (records.counts_toward_budget(t) or t.state in claimed)
    )
    return ahead < n_trials


def step_back(study: optuna.Study, trial: optuna.trial.Trial) -> None:
    """Give back a trial asked for beyond the budget: failed at once, marked surplus, so it
    is no row, count or failure of the sweep (:func:`records.surplus`)."""
    trial.set_user_attr(records.SURPLUS_ATTR, True)
    study.tell(trial, state=TrialState.FAIL)


def tell(
    study: optuna.Study,
    trial: optuna.trial.Trial,
    metrics: Mapping[str, Any],
    objectives: tuple[str, ...],
    constrained: bool,
) -> None:
    """Store how ``trial`` ended: its status and metrics, and its values for the sampler.

    An infeasible trial has no objective: it is stored as pruned, with no value
    any other tool could show, and with a broken constraint, which TPE ranks below
    every feasible trial (so it avoids the region). NSGA-II and GP read constraints
    of complete trials only: they learn nothing from it, as from a failed trial.
    """
    status = str(metrics.get("status", "failed"))
    recorded = {key: metrics[key] for key in records.RECORDED if metrics.get(key) is not None}
    if status == "complete":
        values = [metrics.get(name) for name in objectives]
        if all(isinstance(v, int | float) and math.isfinite(v) for v in values):
            finite = [float(v) for v in values if v is not None]
            trial.set_user_attr(records.ATTR, {"state": status, **recorded})
            if constrained:
                trial.set_constraint(CONSTRAINT, 0.0)
            study.tell(trial, finite)
            return
        status = "failed"
        recorded["error"] = f"objective not finite: {values}"
    trial.set_user_attr(records.ATTR, {"state": status, **recorded})
    if status == "pruned":
        study.tell(trial, state=TrialState.PRUNED)
    elif status == "infeasible":
        if constrained:
            trial.set_constraint(CONSTRAINT, 1.0)
        study.tell(trial, state=TrialState.PRUNED)
    else:
        study.tell(trial, state=TrialState.FAIL)


def too_many_failures(study: StudyView, max_failure_rate: float) -> str | None:
    """Why the sweep must stop for failures (the commonest reasons), or None."""
    finished = [t for t in study.get_trials(deepcopy=False) if records.counts_toward_budget(t)]
    failed = [t for t in finished if records.trial_state(t) == "failed"]
    if len(finished) < MIN_FINISHED_TO_JUDGE or len(failed) / len(finished) <= max_failure_rate:
        return None
    reasons: dict[str, int] = {}
    for trial in failed:
        reason = str(records.metrics_of(trial).get("error", "unknown"))[:160]
        reasons[reason] = reasons.get(reason, 0) + 1
    summary = "; ".join(f"{n}x {r}" for r, n in sorted(reasons.items(), key=lambda x: -x[1])[:3])
    return (
        f"{len(failed)} of {len(finished)} trials failed (hydra.sweeper.max_failure_rate="
        f"{max_failure_rate}). {summary}"
    )


def longest_first_epoch_seconds(study: StudyView) -> float:
    """The longest first epoch (compilation included) of the trials so far: what a new trial
    may need before its first chance to stop at the deadline. 0 before any trial trained.

    The longest, not the median: a trial started when only a typical first epoch fits, whose
    own first epoch runs long, eats the time kept back for the refit behind it."""
    return max(
        (
            float(m["first_epoch_seconds"])
            for m in (records.metrics_of(t) for t in study.get_trials(deepcopy=False))
            if m.get("first_epoch_seconds")
        ),
        default=0.0,
    )


def best_value_text(study: StudyView) -> str:
    best = records.best_trials(study)
    if not best:
        return "no feasible trial yet"
    if records.single_objective(study):
        return f"best {best[0].values[0]:.4f} (trial {best[0].number})"
    return f"{len(best)} on the Pareto front"


def frozen(study: StudyView, number: int) -> FrozenTrial:
    return study.get_trials(deepcopy=False)[number]
