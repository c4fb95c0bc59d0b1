"""The ensemble: the class probabilities of the refit and the best complete trials averaged
(``hydra.sweeper.ensemble``), scored on the test split from the runs' saved probabilities.

The members are fixed by the setting and the validation order alone: the refit first (where
it ran), then the complete trials, best objective first. The test split scores the average;
it never chooses the members or their count.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cnnsweep import run_files
from cnnsweep.sweep.study import records

if TYPE_CHECKING:
    import optuna

    from cnnsweep.sweep.state import Sweep

log = logging.getLogger("cnnsweep")


@dataclass(frozen=True)
class Member:
    name: str  # "refit-7" or "trial 3", as the report names it
    run_dir: Path


def candidates(study: optuna.Study, sweep_dir: Path) -> list[Member]:
    """Every run the ensemble may take, in the order it takes them: the refit where it
    completed, then the complete trials, best objective first."""
    found = []
    refit = study.user_attrs.get(records.REFIT_ATTR) or {}
    if refit.get("status") == "complete" and refit.get("dir"):
        found.append(Member(str(refit["dir"]), sweep_dir / str(refit["dir"])))
    found += [Member(f"trial {t.number}", sweep_dir / str(t.number)) for t in records.ranked_trials(study)]
    return found


def average_accuracy(scores: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Test accuracy of the mean of the members' class probabilities (one vote each)."""
    mean = np.mean([probabilities for probabilities, _ in scores], axis=0)
    return float((mean.argmax(axis=1) == scores[0][1]).mean())


def run(sweep: Sweep) -> None:
    """Average the first ``hydra.sweeper.ensemble`` runs that saved their test probabilities
    and record the ensemble (members, test accuracy) as a study attribute."""
    size = sweep.settings.ensemble
    taken: list[Member] = []
    scores: list[tuple[np.ndarray, np.ndarray]] = []
    skipped: list[str] = []
    for member in candidates(sweep.study, sweep.settings.sweep_dir):
        if len(taken) == size:
            break
        saved = run_files.read_test_scores(member.run_dir)
        if saved is None or (scores and not np.array_equal(saved[1], scores[0][1])):
            skipped.append(member.name)  # saved before runs kept probabilities, or another test split
            continue
        taken.append(member)
        scores.append(saved)
    if skipped:
        log.warning(
            "ensemble: no usable %s in %s; left out",
            run_files.PROBABILITIES_FILE,
            ", ".join(skipped),
        )
    record: dict[str, Any] = {"size": size, "members": [m.name for m in taken]}
    if len(taken) < 2:
        record.update(status="skipped", test_acc=None, error=f"{len(taken)} run(s) to average, 2 needed")
        log.warning("ensemble skipped: %s", record["error"])
    else:
        record.update(status="complete", test_acc=average_accuracy(scores))
        log.info("ensemble of %s: test_acc %.4f", ", ".join(record["members"]), record["test_acc"])
    sweep.study.set_user_attr(records.ENSEMBLE_ATTR, record)
