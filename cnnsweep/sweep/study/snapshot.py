"""A study read once: what the coordinator's questions between two trials are asked of.

Each question a sweep asks its study (how much budget is left, has it stalled, which trial
is best, the rows of ``trials.csv``) reads every trial from the storage, and on SQLite each
read costs milliseconds. A :class:`Snapshot` reads the trials and the study's attributes
once and answers every question of one moment from that read: the loop step of a worker,
one progress line with the records it writes. The one question that must see the storage
as it is now, whether an asked trial is within the budget, never reads a snapshot.

The readers in :mod:`cnnsweep.sweep.study.records` and ``lifecycle`` take a
:class:`StudyView`: an Optuna study, or a snapshot of one.
"""

from __future__ import annotations

import copy
from collections.abc import Container
from functools import cached_property
from typing import Any, Protocol

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState


class StudyView(Protocol):
    """What the records read of a study: an :class:`optuna.Study` is one, a :class:`Snapshot`
    another."""

    study_name: str

    def get_trials(
        self, deepcopy: bool = True, states: Container[TrialState] | None = None
    ) -> list[FrozenTrial]: ...

    @property
    def directions(self) -> list[StudyDirection]: ...

    @property
    def direction(self) -> StudyDirection: ...

    @property
    def user_attrs(self) -> dict[str, Any]: ...

    @property
    def best_trials(self) -> list[FrozenTrial]: ...


class Snapshot:
    """``study``'s trials and attributes, read once, as a read-only :class:`StudyView`.

    It never writes and never reads again: a snapshot is for one moment's questions, and
    a later moment takes a new one.
    """

    def __init__(self, study: optuna.Study) -> None:
        self._study = study
        self.study_name = study.study_name
        self._trials = study.get_trials(deepcopy=False)
        self._directions = study.directions  # kept by the study itself: no read

    @cached_property
    def _user_attrs(self) -> dict[str, Any]:
        """The study's attributes, read at the first question that needs them (a worker's step
        needs none), then kept."""
        return self._study.user_attrs

    def get_trials(
        self, deepcopy: bool = True, states: Container[TrialState] | None = None
    ) -> list[FrozenTrial]:
        trials = [t for t in self._trials if states is None or t.state in states]
        return copy.deepcopy(trials) if deepcopy else trials

    @property
    def directions(self) -> list[StudyDirection]:
        return list(self._directions)

    @property
    def direction(self) -> StudyDirection:
        if len(self._directions) != 1:
            raise RuntimeError("a study of several objectives has no single direction")
        return self._directions[0]

    @property
    def user_attrs(self) -> dict[str, Any]:
        return copy.deepcopy(self._user_attrs)

    @property
    def best_trials(self) -> list[FrozenTrial]:
        """The Pareto front, from the study itself: Optuna's own rules, constraints included.
        Only a study of several objectives asks (one objective's best is ranked here)."""
        return self._study.best_trials
