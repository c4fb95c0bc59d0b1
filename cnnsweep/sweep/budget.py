"""The time budget (``hydra.sweeper.timeout``): what the search, the confirmation and the
refit each get.

The sweep's training deadline (:func:`cnnsweep.sweep.state.training_deadline`) is
shared: the search stops asking for trials early enough to leave the confirmation
runs of its best configurations (``hydra.sweeper.confirm``) and the refit of the
chosen one (``hydra.sweeper.refit``) the time they will take, estimated from the
trials' own measured speed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from optuna.trial import FrozenTrial, TrialState

from cnnsweep.sweep.settings.frozen import MAX_CONFIRM_SEEDS
from cnnsweep.sweep.study import records, reruns

if TYPE_CHECKING:
    from cnnsweep.sweep.state import Sweep

REFIT_FIXED_S = 2.0  # a refit's cost beyond its epochs: building the model, the test split, model.keras
SIZED_REFIT_FLOOR = 2  # a time-sized refit plans from its epochs after the first (which compiles)
CONFIRM_FIXED_S = 3.0  # a confirmation run's cost beyond training: building, the test split, its files
CONFIRM_SEED_BLOCK = 1_000_000  # confirmation seeds start this far above trainer.seed


def refit_seconds(metrics: Mapping[str, Any]) -> float:
    """About how long a refit of the trial with these ``metrics`` takes: its best epoch count
    on every training image (training plus validation), at the trial's own images per
    second, with a tenth more and :data:`REFIT_FIXED_S` for building, testing and saving."""
    return int(metrics.get("best_epoch") or 1) * epoch_seconds(metrics) + REFIT_FIXED_S


def epoch_seconds(metrics: Mapping[str, Any]) -> float:
    """About how long one refit epoch of the trial with these ``metrics`` takes: every training
    image (training plus validation) at the trial's own images per second, with a tenth more.
    Trials that ran beside others were slower than a refit alone, so this errs long."""
    speed = float(metrics.get("images_per_second") or 0)
    images = int(metrics.get("train_images") or 0) + int(metrics.get("val_images") or 0)
    return 1.1 * images / speed if speed > 0 else 0.0


def _trial_tails(study: Any) -> list[float]:
    """What each complete trial spent beyond its training (building, scoring the test split,
    saving its files, telling the study), shortest first."""
    return sorted(
        (t.datetime_complete - t.datetime_start).total_seconds()
        - float(records.metrics_of(t).get("train_seconds") or 0)
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if t.datetime_start is not None and t.datetime_complete is not None
    )


def typical_trial_tail_seconds(study: Any) -> float:
    """The median time a complete trial spent beyond its training. 0 before any trial completed."""
    tails = _trial_tails(study)
    return max(0.0, tails[len(tails) // 2]) if tails else 0.0


def longest_trial_tail_seconds(study: Any) -> float:
    """The longest time a complete trial spent beyond its training. 0 before any completed."""
    tails = _trial_tails(study)
    return max(0.0, tails[-1]) if tails else 0.0


def refit_tail_seconds(study: Any) -> float:
    """What a refit spends beyond its training: building, the data, the test split, its
    files; as much as a typical trial did, and at least :data:`REFIT_FIXED_S`."""
    return max(REFIT_FIXED_S, typical_trial_tail_seconds(study))


def confirm_run_seconds(metrics: Mapping[str, Any]) -> float:
    """About how long one more run of a trial takes: its own training time, a tenth more,
    and :data:`CONFIRM_FIXED_S`."""
    return 1.1 * float(metrics.get("train_seconds") or 0.0) + CONFIRM_FIXED_S


def confirm_seed(base_seed: int, trial: int, index: int) -> int:
    """The ``index``-th new seed of trial ``trial``'s configuration: never a trial's own seed
    (``trainer.seed`` + trial number), and the same on every resume."""
    return base_seed + CONFIRM_SEED_BLOCK + MAX_CONFIRM_SEEDS * trial + index


def confirm_top(sweep: Sweep) -> list[FrozenTrial]:
    """The ``confirm.top_k`` best distinct configurations, each as its best complete trial, best
    first (a sampler may try one configuration twice: confirming it against itself says nothing)."""
    chosen: list[FrozenTrial] = []
    seen: set[tuple[tuple[str, str], ...]] = set()
    for trial in records.ranked_trials(sweep.study):
        values = tuple(sorted((key, repr(value)) for key, value in trial.params.items()))
        if values not in seen:
            seen.add(values)
            chosen.append(trial)
        if len(chosen) == sweep.settings.confirm.top_k:
            break
    return chosen


def confirm_plan(sweep: Sweep, top: list[FrozenTrial]) -> list[tuple[FrozenTrial, int]]:
    """Every confirmation run of ``top`` as (trial, seed): first each configuration's first new
    seed, then each one's second, and so on, so a cut plan keeps every configuration in play."""
    return [
        (trial, confirm_seed(sweep.settings.run.base_seed, trial.number, index))
        for index in range(sweep.settings.confirm.seeds)
        for trial in top
    ]


def finished(run: Mapping[str, Any] | None) -> bool:
    """A stored confirmation run that trained to its end with an objective."""
    return run is not None and run.get("status") == "complete" and run.get("objective") is not None


def confirm_left(sweep: Sweep) -> list[tuple[FrozenTrial, int]]:
    """The runs of the confirmation of the best trials so far that are not done yet."""
    if not sweep.settings.confirm.top_k or not sweep.settings.single_objective:
        return []
    done = reruns.confirm_runs(sweep.study)
    return [
        (trial, seed)
        for trial, seed in confirm_plan(sweep, confirm_top(sweep))
        if not finished(done.get(reruns.confirm_key(trial.number, seed)))
    ]


def confirm_reserve(sweep: Sweep) -> float:
    """The time the confirmation's runs left will take, spread over the workers."""
    left = [confirm_run_seconds(records.metrics_of(trial)) for trial, _ in confirm_left(sweep)]
    return sum(left) / max(1, sweep.settings.n_jobs)


def refit_reserve(sweep: Sweep) -> float:
    """The refit's time: ``hydra.sweeper.refit_share`` of the timeout where it is set (or the
    best trial's epoch count on every image, if that takes longer), else that estimate alone."""
    settings = sweep.settings
    if not settings.refit:  # asked before every trial: no storage read when there is no refit
        return 0.0
    share = settings.refit_share * settings.timeout if settings.refit_share and settings.timeout else 0.0
    best = records.chosen_best(sweep.study)
    return max(share, refit_seconds(records.metrics_of(best)) if best is not None else 0.0)


def search_deadline(sweep: Sweep) -> float | None:
    """When the search's training must end: the sweep's deadline, less what the confirmation,
    the ablation path and the refit of the best trials so far will take."""
    if sweep.deadline is None or not sweep.settings.single_objective:
        return sweep.deadline
    reserved = refit_reserve(sweep) + confirm_reserve(sweep) + ablation_reserve(sweep)
    if not reserved:
        return sweep.deadline
    # A trial stopped at this deadline still scores its test split and saves its files: that
    # tail comes before the runs reserved here, so the search ends that much earlier. The
    # longest tail seen, not the typical one: the runs check the time left again after it.
    return sweep.deadline - reserved - longest_trial_tail_seconds(sweep.study)


def ablation_reserve(sweep: Sweep) -> float:
    """The time the ablation path of the best configuration so far will take: a run per step
    and seed (the baseline and one step per setting the best changes), each about as long as a
    run of the best trial, less the runs already stored, spread over the workers."""
    settings = sweep.settings
    if not settings.ablation.seeds:
        return 0.0
    best = records.chosen_best(sweep.study)
    if best is None:
        return 0.0
    changes = sum(
        1
        for key, value in best.params.items()
        if str(settings.ablation.baseline.get(key, value)) != str(value)
    )
    runs = (changes + 1) * settings.ablation.seeds if changes else 0
    stored = sum(1 for run in reruns.ablation_runs(sweep.study).values() if finished(run))
    return max(0, runs - stored) * confirm_run_seconds(records.metrics_of(best)) / max(1, settings.n_jobs)
