"""Start a new study from what an earlier one found (``hydra.sweeper.warm_start``).

    python -m cnnsweep --multirun +sweep=seed_cnn hydra.sweeper.warm_start.from=multirun/2026-12-01/10-00-00

The earlier study's ``top_k`` best configurations that fit this sweep's space are
queued first (a searched key the earlier study did not search is left to the
sampler; a key this sweep does not search is dropped; a value outside this space
skips that configuration, with a line saying so). With ``tell=true`` (same dataset
and recipe) its finished trials are also added to the new study as past trials,
marked as told (:func:`cnnsweep.sweep.study.records.told`), so the sampler and the pruner
start informed while this sweep's rows, counts and best stay its own.
"""

from __future__ import annotations

import logging
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState

from cnnsweep.errors import ConfigError
from cnnsweep.masking import mask_password
from cnnsweep.sweep.settings.frozen import SweepSettings, WarmStart
from cnnsweep.sweep.settings.space import in_range
from cnnsweep.sweep.study import records
from cnnsweep.sweep.study.storage import open_local_study

log = logging.getLogger("cnnsweep")


def load_source(warm: WarmStart) -> optuna.Study:
    """The earlier study, checked to have a complete trial.

    Raises:
        ConfigError: not a sweep, no such study, or nothing finished in it.
    """
    key = f"hydra.sweeper.warm_start.{'from' if warm.sweep_dir is not None else 'storage'}"
    if warm.sweep_dir is not None:
        study = open_local_study(warm.sweep_dir)
        if study is None:
            raise ConfigError(
                f"hydra.sweeper.warm_start.from={warm.sweep_dir} is not a sweep dir: it has "
                "no optuna.db or optuna.journal with one study. Give the folder an earlier "
                "sweep wrote (with its trials.csv), or warm_start.storage and study_name.",
                key=key,
            )
    else:
        study = _load_from_storage(warm, key)
    if not records.complete_trials(study):
        raise ConfigError(
            f"hydra.sweeper.warm_start: the study {study.study_name!r} in {warm.source} has no "
            "complete trial to start from. Warm-start from a sweep that finished a trial.",
            key=key,
        )
    return study


def _load_from_storage(warm: WarmStart, key: str) -> optuna.Study:
    url = str(warm.storage)
    try:
        names = optuna.get_all_study_names(url)
    except Exception as exc:
        raise ConfigError(
            f"hydra.sweeper.warm_start.storage={mask_password(url)} cannot be opened "
            f"({type(exc).__name__}: {mask_password(str(exc).splitlines()[0][:160])}).",
            key=key,
        ) from None
    name = warm.study_name
    if name is None:
        if len(names) != 1:
            raise ConfigError(
                f"hydra.sweeper.warm_start.storage={mask_password(url)} holds {len(names)} "
                f"studies ({', '.join(names[:5])}): name one with "
                "hydra.sweeper.warm_start.study_name.",
                key="hydra.sweeper.warm_start.study_name",
            )
        name = names[0]
    elif name not in names:
        raise ConfigError(
            f"hydra.sweeper.warm_start.study_name={name}: no such study in "
            f"{mask_password(url)} (it has {', '.join(names[:5]) or 'none'}).",
            key="hydra.sweeper.warm_start.study_name",
        )
    return optuna.load_study(study_name=name, storage=url)


def fit_to_space(
    params: dict[str, Any], space: dict[str, BaseDistribution]
) -> tuple[dict[str, Any], str | None]:
    """``params`` restricted to the searched keys of ``space``, or why they cannot be used
    (a value outside its key's range)."""
    kept = {key: value for key, value in params.items() if key in space}
    for key, value in kept.items():
        if not in_range(space[key], value):
            return kept, f"{key}={value!r} is outside this sweep's range"
    return kept, None


def queue_and_tell(
    study: optuna.Study, settings: SweepSettings, source: optuna.Study, already_queued: list[dict[str, Any]]
) -> None:
    """Queue the source's best configurations that fit (up to the study's budget) and, with
    ``tell``, add its finished trials as told past trials. Lines say what was taken and dropped."""
    warm = settings.warm_start
    assert warm is not None
    space = dict(settings.space.distributions)
    if warm.tell:
        _tell(study, settings, source, space)
    ranked = (
        records.ranked_trials(source) if records.single_objective(source) else records.best_trials(source)
    )
    room = max(0, settings.n_trials - len(already_queued))
    dropped: set[str] = set()
    queued = 0
    for trial in ranked:
        if queued >= min(warm.top_k, room):
            break
        dropped |= set(trial.params) - set(space)
        params, problem = fit_to_space(dict(trial.params), space)
        if problem is not None:
            log.info("warm start: trial %d of %s skipped: %s", trial.number, source.study_name, problem)
            continue
        if params in already_queued:
            continue
        study.enqueue_trial(
            params,
            user_attrs={
                records.WARM_START_ATTR: {
                    "study": source.study_name,
                    "trial": trial.number,
                    "value": trial.values[0],
                }
            },
        )
        already_queued.append(params)
        queued += 1
    log.info(
        "warm start from %s: %d of its best configurations queued first%s",
        warm.source,
        queued,
        f" (not searched here, dropped: {', '.join(sorted(dropped))})" if dropped else "",
    )


def _tell(
    study: optuna.Study, settings: SweepSettings, source: optuna.Study, space: dict[str, BaseDistribution]
) -> None:
    if [d.name for d in source.directions] != [d.name for d in study.directions]:
        raise ConfigError(
            f"hydra.sweeper.warm_start.tell=true: the study {source.study_name!r} optimises "
            f"{[d.name.lower() for d in source.directions]}, this one "
            f"{list(settings.directions)}. Warm-start without tell (only its best "
            "configurations are tried first).",
            key="hydra.sweeper.warm_start.tell",
        )
    told, skipped = [], 0
    for trial in records.own_trials(source, states=(TrialState.COMPLETE, TrialState.PRUNED)):
        if records.trial_state(trial) not in ("complete", "pruned"):
            continue  # infeasible: no value to learn from
        params, problem = fit_to_space(dict(trial.params), space)
        if problem is not None:
            skipped += 1
            continue
        try:
            told.append(_past_trial(trial, params, space, source.study_name))
        except ValueError:  # a value off the new range's step grid
            skipped += 1
    study.add_trials(told)
    log.info(
        "warm start: %d finished trials of %s told to the sampler%s",
        len(told),
        source.study_name,
        f" ({skipped} outside this space left out)" if skipped else "",
    )


def _past_trial(
    trial: FrozenTrial, params: dict[str, Any], space: dict[str, BaseDistribution], study_name: str
) -> FrozenTrial:
    complete = trial.state == TrialState.COMPLETE and records.trial_state(trial) == "complete"
    return optuna.trial.create_trial(
        state=TrialState.COMPLETE if complete else TrialState.PRUNED,
        params=params,
        distributions={key: space[key] for key in params},
        values=list(trial.values) if complete else None,
        intermediate_values=dict(trial.intermediate_values),
        user_attrs={records.TOLD_ATTR: {"study": study_name, "trial": trial.number}},
    )
