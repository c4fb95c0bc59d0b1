"""Gather a sweep dir into plain records, without drawing anything.

The trial dirs are the primary source (``metrics.json``, ``history.csv``,
``.hydra/overrides.yaml``); the sweep's local Optuna storage, when there is one,
adds trials still running, start times and the searched keys. A file that is
missing or corrupt is noted in ``problems`` and the trial is kept with what is
known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from cnnsweep import run_files
from cnnsweep.errors import UserError
from cnnsweep.sweep.study import records, reruns, storage

STATES = (*run_files.STATUSES, "running")
METRIC_COLUMNS = ("objective_name", *run_files.RECORDED_METRICS)


@dataclass
class CollectedSweep:
    """One sweep as tables: everything a report shows, nothing drawn yet."""

    sweep_dir: Path
    name: str
    trials: pd.DataFrame  # one row per trial; columns: trial_number, state, params..., metrics...
    param_keys: list[str]
    histories: dict[int, pd.DataFrame] = field(default_factory=dict)
    directions: list[str] = field(default_factory=lambda: ["maximize"])
    objectives: list[str] = field(default_factory=lambda: ["objective"])
    dataset: str | None = None
    budget: int | None = None
    max_epochs: int | None = None
    refit: dict[str, Any] | None = None  # the best configuration retrained on every training image
    ensemble: dict[str, Any] | None = None  # hydra.sweeper.ensemble: the refit and best trials averaged
    best_command: str | None = None  # the single run that trains the best trial again
    # hydra.sweeper.confirm: every run of the confirmed configurations (confirm.csv) and their
    # statistics (optimization_results.yaml's confirmed), when the sweep confirmed any
    confirm_runs: pd.DataFrame | None = None
    confirmed: dict[str, Any] | None = None
    answer: dict[str, Any] = field(default_factory=dict)  # optimization_results.yaml's best_* keys
    ablation: dict[str, Any] | None = None  # hydra.sweeper.ablation: the measured path to the best
    problems: list[str] = field(default_factory=list)

    @property
    def noise_std(self) -> float | None:
        """The seed-to-seed noise the confirmation measured, or None."""
        noise = (self.confirmed or {}).get("noise_std")
        return float(noise) if isinstance(noise, int | float) else None

    @property
    def objective_name(self) -> str:
        if "objective_name" not in self.trials:
            return "objective"
        names = self.trials["objective_name"].dropna()
        return str(names.iloc[0]) if len(names) else "objective"

    @property
    def maximize(self) -> bool:
        return self.directions[0] == "maximize"

    def complete(self, *columns: str) -> pd.DataFrame:
        """The complete trials that have a value in each of ``columns`` (default: the objective):
        the trials every statistic and plot of the report is computed from."""
        done = self.trials[self.trials["state"] == "complete"]
        return done.dropna(subset=list(columns or ("objective",)))

    def ranked(self) -> pd.DataFrame:
        """The complete trials, best (first) objective first: the one ranking the report uses."""
        return self.complete().sort_values("objective", ascending=not self.maximize, kind="stable")

    def best(self) -> pd.Series | None:
        """The sweep's one best trial: the confirmation's winner where it ran, else the best
        single run (the complete trial with the best first objective); None without either."""
        number = self.confirmed_best
        if number is not None:
            rows = self.trials[self.trials["trial_number"] == number]
            if not rows.empty:
                return rows.iloc[0]
        return self.best_single_run()

    def best_single_run(self) -> pd.Series | None:
        """The complete trial with the best (first) objective in one run, or None."""
        ranked = self.ranked()
        return None if ranked.empty else ranked.iloc[0]

    @property
    def confirmed_best(self) -> int | None:
        trial = (self.confirmed or {}).get("best_trial")
        return int(trial) if isinstance(trial, int) else None

    def confirmed_config(self, trial: int) -> dict[str, Any] | None:
        """The confirmation's statistics of one configuration (new-seed runs), or None."""
        return next((c for c in (self.confirmed or {}).get("configs") or [] if c.get("trial") == trial), None)

    def state_counts(self) -> dict[str, int]:
        counts = self.trials["state"].value_counts()
        return {state: int(counts.get(state, 0)) for state in STATES if counts.get(state, 0)}


def _read_history(path: Path, problems: list[str]) -> pd.DataFrame | None:
    if not path.exists():
        return None
    try:
        frame = pd.read_csv(path)
        if "epoch" not in frame.columns or frame.empty:
            raise ValueError("no epoch column or no rows")
        return frame
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        problems.append(f"{path}: unreadable ({type(exc).__name__}: {str(exc)[:100]})")
        return None


def _read_overrides(trial_dir: Path) -> dict[str, Any]:
    path = trial_dir / run_files.HYDRA_OVERRIDES
    try:
        lines = yaml.safe_load(path.read_text()) or []
    except (OSError, yaml.YAMLError):
        return {}
    values = {}
    for line in lines:
        key, _, value = str(line).partition("=")
        try:
            values[key.lstrip("+~")] = yaml.safe_load(value)
        except yaml.YAMLError:
            values[key.lstrip("+~")] = value
    return values


def _open_local_study(sweep_dir: Path):
    """The sweep's own Optuna storage (read-only use), or None."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return storage.open_local_study(sweep_dir)
    except Exception:  # a locked or damaged storage: the trial dirs still tell the story
        return None


def is_sweep_dir(path: Path) -> bool:
    return path.is_dir() and (
        any(
            (path / name).exists()
            for name in (
                storage.SQLITE_FILE,
                storage.JOURNAL_FILE,
                records.TRIALS_FILE,
                records.RESULTS_FILE,
                "multirun.yaml",
            )
        )
        or any(child.name.isdigit() and (child / ".hydra").is_dir() for child in path.iterdir())
    )


def collect_sweep(sweep_dir: Path) -> CollectedSweep:
    """Read one sweep dir into a :class:`CollectedSweep`.

    Raises:
        UserError: ``sweep_dir`` is not a sweep dir, or holds no trials at all.
    """
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise UserError(
            f"{sweep_dir} is not a directory. Give the sweep dir a --multirun run "
            "printed (multirun/<date>/<time>)."
        )
    if not is_sweep_dir(sweep_dir):
        raise UserError(
            f"{sweep_dir} is not a sweep dir: it has no trial folders, trials.csv or "
            "Optuna storage. Give the folder a --multirun run printed."
        )
    problems: list[str] = []
    study = _open_local_study(sweep_dir)
    results = _read_results(sweep_dir, problems)
    trials = _read_trial_dirs(sweep_dir, has_study=study is not None, problems=problems)
    found = _Searched(
        name=str(results.get("name") or sweep_dir.name),
        directions=list(results.get("directions") or ["maximize"]),
        objectives=list(results.get("objectives") or ["objective"]),
    )
    if study is not None:
        _add_study(study, trials, found)
    elif (sweep_dir / records.TRIALS_FILE).exists():
        found.param_keys = _param_keys_of_table(sweep_dir / records.TRIALS_FILE, problems)
    if not found.param_keys:  # fall back to the overrides that differ between trials
        keys = {k for values in trials.overrides.values() for k in values}
        found.param_keys = sorted(
            k for k in keys if len({str(v.get(k)) for v in trials.overrides.values()}) > 1
        )
    if not trials.rows:
        raise UserError(f"{sweep_dir} holds no trials yet: nothing to report.")
    trainer, dataset = trials.config.get("trainer") or {}, trials.config.get("dataset") or {}
    refit, best_command = results.get("refit"), results.get("best_command")
    confirmed = results.get("confirmed")
    return CollectedSweep(
        sweep_dir=sweep_dir,
        name=found.name,
        trials=_trial_table(trials, found.param_keys),
        param_keys=found.param_keys,
        histories=trials.histories,
        directions=found.directions,
        objectives=found.objectives,
        dataset=dataset.get("name"),
        budget=results.get("n_trials"),
        # trainer.epochs searched: the epochs differ per trial
        max_epochs=None if "trainer.epochs" in found.param_keys else trainer.get("epochs"),
        refit=refit if isinstance(refit, dict) else None,
        ensemble=results["ensemble"] if isinstance(results.get("ensemble"), dict) else None,
        best_command=best_command if isinstance(best_command, str) else None,
        confirm_runs=_read_confirm_runs(sweep_dir / reruns.CONFIRM_FILE, problems),
        confirmed=confirmed if isinstance(confirmed, dict) else None,
        answer={k: v for k, v in results.items() if k.startswith("best_")},
        ablation=results["ablation"] if isinstance(results.get("ablation"), dict) else None,
        problems=problems,
    )


@dataclass
class _TrialDirs:
    """What the numbered trial dirs of a sweep hold."""

    rows: dict[int, dict[str, Any]] = field(default_factory=dict)  # trial number -> its row
    histories: dict[int, pd.DataFrame] = field(default_factory=dict)
    overrides: dict[int, dict[str, Any]] = field(default_factory=dict)  # trial number -> key: value
    config: dict[str, Any] = field(default_factory=dict)  # the first trial's resolved config


@dataclass
class _Searched:
    """The sweep's name, objectives and searched keys, as its records or its study say."""

    name: str
    directions: list[str]
    objectives: list[str]
    param_keys: list[str] = field(default_factory=list)


def _read_results(sweep_dir: Path, problems: list[str]) -> dict[str, Any]:
    path = sweep_dir / records.RESULTS_FILE
    if not path.exists():
        return {}
    try:
        results = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        problems.append(f"optimization_results.yaml: unreadable ({exc})")
        return {}
    return results if isinstance(results, dict) else {}


def _read_confirm_runs(path: Path, problems: list[str]) -> pd.DataFrame | None:
    if not path.exists():
        return None
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        problems.append(f"{path.name}: unreadable ({exc})")
        return None
    missing = set(reruns.CONFIRM_COLUMNS) - set(table.columns)
    if missing:
        problems.append(f"{path.name}: no column {', '.join(sorted(missing))}")
        return None
    return table


def _read_trial_dirs(sweep_dir: Path, *, has_study: bool, problems: list[str]) -> _TrialDirs:
    """Each trial dir's metrics, history and overrides (a trial with no metrics.json is
    running when the study says so, else it never finished)."""
    found = _TrialDirs()
    for trial_dir in sorted((p for p in sweep_dir.iterdir() if p.name.isdigit()), key=lambda p: int(p.name)):
        number = int(trial_dir.name)
        found.overrides[number] = _read_overrides(trial_dir)
        found.config = found.config or run_files.read_run_config(trial_dir)
        metrics = run_files.read_metrics(trial_dir, problems) or {}
        row: dict[str, Any] = {
            "trial_number": number,
            "state": metrics.get("status", "running" if has_study else "failed"),
        }
        if not metrics and not has_study:
            row["error"] = "no metrics.json: the trial never finished"
        row.update({key: metrics[key] for key in METRIC_COLUMNS if key in metrics})
        found.rows[number] = row
        history = _read_history(trial_dir / run_files.HISTORY_FILE, problems)
        if history is not None:
            found.histories[number] = history
    return found


def _add_study(study: Any, trials: _TrialDirs, found: _Searched) -> None:
    """The study's word on each trial's state, values and times, and on what it searched."""
    found.name = study.study_name
    found.directions = [d.name.lower() for d in study.directions]
    found.param_keys = list(study.user_attrs.get("cnnsweep_params", []))
    found.objectives = list(study.user_attrs.get("cnnsweep_objectives", found.objectives))
    for trial in records.own_trials(study):
        if trial.state.name == "WAITING":
            continue
        row = trials.rows.setdefault(trial.number, {"trial_number": trial.number})
        state = records.trial_state(trial)
        if row.get("state") in (None, "running") or state == "running":
            row["state"] = state
        if records.interrupted(trial):
            row["state"] = "failed"
            row.setdefault("error", records.interruption(trial))
        trials.overrides.setdefault(trial.number, {}).update(trial.params)
        if trial.datetime_start is not None:
            row["started"] = trial.datetime_start
        if trial.datetime_complete is not None:
            row["completed"] = trial.datetime_complete


def _param_keys_of_table(path: Path, problems: list[str]) -> list[str]:
    """The searched keys of a trials.csv: its columns that are neither states nor metrics."""
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        problems.append(f"trials.csv: unreadable ({exc})")
        return []
    fixed = {"trial_number", "state", "retry_of", "started", *METRIC_COLUMNS}
    return [c for c in table.columns if c not in fixed]


def _trial_table(trials: _TrialDirs, param_keys: list[str]) -> pd.DataFrame:
    """One row per trial, in order: its searched values and its metrics."""
    for number, row in trials.rows.items():
        for key in param_keys:
            row[key] = trials.overrides.get(number, {}).get(key)
    ordered = sorted(trials.rows.values(), key=lambda r: r["trial_number"])
    frame = records.keep_integers(pd.DataFrame(ordered), ordered)
    for column in METRIC_COLUMNS:
        if column not in frame:
            frame[column] = None
    frame["objective"] = pd.to_numeric(frame["objective"], errors="coerce")
    return frame
