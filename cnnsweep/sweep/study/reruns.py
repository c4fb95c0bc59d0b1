"""The runs after the search, as the study stores them: the confirmation's new seeds of the
best configurations and the ablation path's steps, each table one study attribute, and
their files (``confirm.csv``, ``ablation.csv``). Their statistics are in
:mod:`cnnsweep.analysis`; :mod:`.records` reads the verdicts back."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import optuna

from cnnsweep.atomic import write_csv
from cnnsweep.numbers import finite_or_none
from cnnsweep.sweep.study.snapshot import StudyView

CONFIRM_RUNS_ATTR = "cnnsweep_confirm_runs"  # a study attribute: every confirmation run, by trial:seed
ABLATION_RUNS_ATTR = "cnnsweep_ablation_runs"  # a study attribute: every run of the ablation path
ABLATION_ATTR = "cnnsweep_ablation"  # a study attribute: the ablation path's statistics
CONFIRM_FILE = "confirm.csv"
CONFIRM_COLUMNS = ("trial", "seed", "objective", "test_acc", "status", "run_dir", "original")


# ---------------------------------------------------------------- confirmation runs
def confirm_key(trial: int, seed: int) -> str:
    return f"{trial}:{seed}"


def confirm_runs(study: StudyView) -> dict[str, dict[str, Any]]:
    """Every confirmation run stored so far (the original trials' runs among them), by key."""
    return dict(study.user_attrs.get(CONFIRM_RUNS_ATTR) or {})


def record_confirm_run(
    study: optuna.Study,
    trial: int,
    seed: int,
    metrics: Mapping[str, Any],
    run_dir: str,
    *,
    original: bool = False,
) -> None:
    """Store one run's outcome; the whole table is one study attribute (one transaction)."""
    runs = confirm_runs(study)
    runs[confirm_key(trial, seed)] = {
        "trial": trial,
        "seed": seed,
        "objective": finite_or_none(metrics.get("objective")),
        "test_acc": metrics.get("test_acc"),
        "status": metrics.get("status", "failed"),
        "run_dir": run_dir,
        "original": original,
        **({"error": str(metrics["error"])[:300]} if metrics.get("error") else {}),
    }
    study.set_user_attr(CONFIRM_RUNS_ATTR, runs)


def confirmation_record(summary: Any, verdict: str) -> dict[str, Any]:
    """``optimization_results.yaml``'s ``confirmed``, from
    :class:`cnnsweep.analysis.repeats.Confirmation`: statistics of the new-seed runs only."""
    return {
        "runs_counted": "new seeds only: each configuration's selecting run is shown, not counted",
        "configs": [
            {
                "trial": c.trial,
                "runs": c.runs,
                "mean": c.mean,
                "std": c.std,
                "ci95": list(c.ci95) if c.ci95 else None,
                "p_best": c.p_best,
                "selecting_run": c.selecting_run,
                "overstated_by": c.overstated_by,
            }
            for c in summary.configs
        ],
        "best_trial": summary.best_trial,
        "noise_std": summary.noise_std,
        "runs_agree": bool(summary.runs_agree),
        "noise_floor": summary.noise_floor,
        "lead": summary.lead,
        "lead_ci95": list(summary.lead_ci95) if summary.lead_ci95 else None,
        "clear_winner": bool(summary.clear_winner),
        "verdict": verdict,
    }


def write_confirm_csv(sweep_dir: Path, study: StudyView) -> Path | None:
    """``confirm.csv``: one row per run of the confirmed configurations (None: no confirmation)."""
    import pandas as pd

    runs = sorted(confirm_runs(study).values(), key=lambda r: (r["trial"], not r.get("original"), r["seed"]))
    if not runs:
        return None
    runs = [{**run, "original": bool(run.get("original"))} for run in runs]
    return write_csv(pd.DataFrame(runs, columns=list(CONFIRM_COLUMNS)), sweep_dir / CONFIRM_FILE)


# ---------------------------------------------------------------- the ablation path
def ablation_runs(study: StudyView) -> dict[str, dict[str, Any]]:
    """Every run of the ablation path stored so far, by configuration and seed."""
    return dict(study.user_attrs.get(ABLATION_RUNS_ATTR) or {})


def record_ablation_run(
    study: optuna.Study, key: str, step: int, seed: int, metrics: Mapping[str, Any], run_dir: str
) -> None:
    """Store one run's outcome; the whole table is one study attribute (one transaction)."""
    runs = ablation_runs(study)
    runs[key] = {
        "step": step,
        "seed": seed,
        "objective": finite_or_none(metrics.get("objective")),
        "test_acc": metrics.get("test_acc"),
        "status": metrics.get("status", "failed"),
        "run_dir": run_dir,
    }
    if metrics.get("error"):
        runs[key]["error"] = str(metrics["error"])[:300]
    study.set_user_attr(ABLATION_RUNS_ATTR, runs)


def write_ablation_csv(sweep_dir: Path, study: StudyView) -> Path | None:
    """``ablation.csv``: one row per step of the path (None: no ablation ran)."""
    import pandas as pd

    from cnnsweep.analysis.ablation import ABLATION_COLUMNS, ABLATION_FILE

    record = study.user_attrs.get(ABLATION_ATTR)
    if not record or not record.get("steps"):
        return None
    return write_csv(pd.DataFrame(record["steps"], columns=list(ABLATION_COLUMNS)), sweep_dir / ABLATION_FILE)
