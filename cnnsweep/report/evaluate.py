"""What a report computes before anything is drawn: everything that needs data,
Keras or Optuna's math.

* :func:`best_model_predictions` - the best trial's saved model on its test split;
* :func:`param_importance` - how much each searched parameter explains of the objective;
* :func:`pareto_front` - the non-dominated trials of a multi-objective sweep;
* :func:`layer_table` - the best model's layers, recomputed from its config.

Each returns plain values (or None when the sweep has nothing for it), which
:mod:`cnnsweep.report.figures` and the HTML page only show.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cnnsweep import run_files
from cnnsweep.analysis import effects, fidelity, shapes
from cnnsweep.analysis import trials as analysed
from cnnsweep.numbers import is_number
from cnnsweep.report.collect import CollectedSweep


def is_numeric(values: pd.Series) -> bool:
    """True when every value is a number (not a bool): such a parameter gets a numeric axis."""
    clean = values.dropna()
    return bool(len(clean)) and all(is_number(v) for v in clean)


def _searched_and_varied(sweep: CollectedSweep) -> tuple[pd.DataFrame, list[str]]:
    table = sweep.complete()
    keys = [k for k in sweep.param_keys if k in table and table[k].nunique(dropna=True) > 1]
    return table, keys


# ---------------------------------------------------------------- importance
@dataclass(frozen=True)
class Importance:
    values: dict[str, float]  # parameter -> share of the objective's variance (sums to 1)
    method: str  # how it was computed, as the plot names it
    # parameter -> (5th, 95th) percentile of its importance over bootstrap resamples of the trials
    spread: dict[str, tuple[float, float]] = field(default_factory=dict)


IMPORTANCE_RESAMPLES = 30  # bootstrap resamples of the trials for the importance's spread


def param_importance(sweep: CollectedSweep, resamples: int = IMPORTANCE_RESAMPLES) -> Importance | None:
    """Optuna's importance of each searched parameter, from the complete trials, with its
    spread over ``resamples`` bootstrap resamples of those trials (seeded)."""
    table, keys = _searched_and_varied(sweep)
    if len(table) < 3 or not keys:
        return None
    trials = _frozen_trials(table, keys)
    values = _importances(trials, sweep.maximize)
    if not values:
        return None
    rng = np.random.default_rng(0)
    draws: dict[str, list[float]] = {key: [] for key in values}
    for _ in range(resamples):
        picked = rng.integers(0, len(trials), len(trials))
        resampled = _importances([trials[i] for i in picked], sweep.maximize)
        for key in draws:
            draws[key].append(resampled.get(key, 0.0) if resampled else 0.0)
    spread = {key: (float(np.percentile(v, 5)), float(np.percentile(v, 95))) for key, v in draws.items() if v}
    return Importance(values, "PED-ANOVA", spread)


def _frozen_trials(table: pd.DataFrame, keys: list[str]) -> list[Any]:
    """``table``'s trials with every one of ``keys`` set, as Optuna trials over the values seen."""
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    distributions: dict[str, Any] = {}
    for key in keys:
        values = table[key].dropna()
        if is_numeric(values) and values.nunique() > 1:
            distributions[key] = FloatDistribution(float(values.min()), float(values.max()))
        else:
            distributions[key] = CategoricalDistribution(sorted({str(v) for v in values}))
    trials = []
    for row in table.to_dict("records"):
        if any(row[key] is None or pd.isna(row[key]) for key in distributions):
            continue
        params = {
            key: float(row[key]) if isinstance(dist, FloatDistribution) else str(row[key])
            for key, dist in distributions.items()
        }
        trials.append(
            optuna.trial.create_trial(
                params=params, distributions=distributions, value=float(row["objective"])
            )
        )
    return trials


def _importances(trials: list[Any], maximize: bool) -> dict[str, float]:
    """PED-ANOVA importances over ``trials`` ({} when it cannot say)."""
    import optuna

    if len(trials) < 3:
        return {}
    study = optuna.create_study(direction="maximize" if maximize else "minimize")
    study.add_trials(trials)
    evaluator = optuna.importance.PedAnovaImportanceEvaluator()  # Optuna's default, named here
    try:
        with warnings.catch_warnings():  # a resample of few distinct trials: equal importances, said once
            warnings.simplefilter("ignore", UserWarning)
            return dict(optuna.importance.get_param_importances(study, evaluator=evaluator))
    except Exception:  # too few distinct points for the evaluator
        return {}


# ---------------------------------------------------------------- Pareto front
@dataclass(frozen=True)
class ParetoFront:
    objectives: tuple[str, str]  # the first two objectives (columns of the trials table)
    points: np.ndarray  # (n, 2): each complete trial's two objective values
    trial_numbers: list[int]
    front: list[int]  # indices into points of the non-dominated trials, by the second objective


def pareto_front(sweep: CollectedSweep) -> ParetoFront | None:
    """The complete trials that no other trial beats in both of the first two objectives."""
    if len(sweep.objectives) < 2:
        return None
    first, second = sweep.objectives[:2]
    table = sweep.complete(first, second)
    if table.empty:
        return None
    points = table[[first, second]].astype(float).to_numpy()
    signs = np.array([1 if d == "maximize" else -1 for d in sweep.directions[:2]])
    front = [
        i
        for i, p in enumerate(points)
        if not any(np.all(q * signs >= p * signs) and np.any(q * signs > p * signs) for q in points)
    ]
    return ParetoFront(
        (first, second),
        points,
        [int(n) for n in table["trial_number"]],
        sorted(front, key=lambda i: points[i, 1]),
    )


# ---------------------------------------------------------------- the best model
@dataclass(frozen=True)
class Predictions:
    trial_number: int
    class_names: tuple[str, ...]
    images: np.ndarray  # the test images, (n, h, w, c) in [0, 1]
    truth: np.ndarray  # class indices
    predicted: np.ndarray

    @property
    def accuracy(self) -> float:
        return float((self.predicted == self.truth).mean())

    def confusion(self) -> np.ndarray:
        """Counts of (true class, predicted class)."""
        matrix = np.zeros((len(self.class_names), len(self.class_names)), dtype=int)
        np.add.at(matrix, (self.truth, self.predicted), 1)
        return matrix

    def examples(self, count: int = 24) -> list[int]:
        """Test images worth showing: mistakes first (up to half), then correct ones."""
        count = min(count, len(self.truth))
        mistakes = [int(i) for i in np.flatnonzero(self.predicted != self.truth)[: count // 2]]
        taken = set(mistakes)
        return mistakes + [i for i in range(len(self.truth)) if i not in taken][: count - len(mistakes)]


def best_model_predictions(sweep: CollectedSweep) -> Predictions | None:
    """The best trial's predictions on its test split: those its run saved
    (``test_predictions.npy``), else its ``model.keras`` (loaded in Keras's safe mode) run
    again on the test split (a run saved before runs kept their predictions)."""
    from cnnsweep.data.loader import load_dataset

    best = sweep.best()
    if best is None:
        return None
    trial_dir = sweep.sweep_dir / str(int(best["trial_number"]))
    saved, model_path = trial_dir / run_files.PREDICTIONS_FILE, trial_dir / run_files.MODEL_FILE
    config = run_files.read_run_config(trial_dir)
    if not config or not (saved.exists() or model_path.exists()):
        return None
    data_cfg = config["dataset"]
    data = load_dataset(data_cfg["name"], data_cfg["path"], test_limit=data_cfg["test_limit"])
    predicted = np.load(saved, allow_pickle=False) if saved.exists() else None
    if predicted is None or len(predicted) != len(data.y_test):
        if not model_path.exists():
            return None
        from cnnsweep.backend import import_keras

        # compile=False: only predictions are needed, not the optimizer (nor its schedule class)
        model = import_keras().models.load_model(model_path, safe_mode=True, compile=False)
        predicted = model.predict(data.x_test, batch_size=512, verbose=0).argmax(axis=1)
    return Predictions(int(best["trial_number"]), data.spec.class_names, data.x_test, data.y_test, predicted)


def layer_table(sweep: CollectedSweep) -> str | None:
    """The best model's layer plan, recomputed from its config (no Keras needed)."""
    best = sweep.best()
    planned = _plan_of(sweep.sweep_dir / str(int(best["trial_number"]))) if best is not None else None
    return planned[0].summary() if planned else None


def sweep_analysis(sweep: CollectedSweep) -> effects.Analysis:
    """Which settings matter in a collected sweep: its complete trials, or (a pruned sweep with
    too few of them) every trial at the latest epoch enough trials reached."""
    table, scored_at = analysed.analysed_trials(
        sweep.trials, sweep.param_keys, sweep.histories, sweep.objective_name
    )
    return effects.analyse(table, sweep.param_keys, scored_at=scored_at)


@dataclass
class Why:
    """The report's "why" section: what changed, what it bought, what it did to the shapes, and
    how far the early epochs could be trusted."""

    plans: list[dict[str, Any]]  # best, baseline, worst complete trial: role, trial, words, layer table
    cells: list[shapes.Cell]
    shape_effects: list[effects.Effect]
    rungs: list[fidelity.Rung]
    fidelity_words: str | None


def _plan_of(run_dir: Path) -> tuple[Any, dict[str, Any]] | None:
    """The architecture plan a run trained (from its saved config), or None."""
    from cnnsweep.architecture import plan_architecture
    from cnnsweep.data.catalog import get_spec

    try:
        config = run_files.read_run_config(run_dir)
        spec = get_spec(config["dataset"]["name"])
        model = {"residual": False, **config["model"]}  # saved before model.residual existed: none
        return plan_architecture(model, spec.input_shape, spec.num_classes), model
    except Exception:  # a missing or old config, or one that cannot be built: no plan to show
        return None


def why(sweep: CollectedSweep, analysis: effects.Analysis) -> Why:
    """Everything the "why" section shows that can be computed from the sweep's files."""
    table, _ = analysed.analysed_trials(sweep.trials, sweep.param_keys, sweep.histories, sweep.objective_name)
    roles: list[tuple[str, int | None, Path | None]] = []
    best = sweep.best()
    if best is not None:
        number = int(best["trial_number"])
        roles.append(("the best", number, sweep.sweep_dir / str(number)))
    baseline_runs = sorted((sweep.sweep_dir / "ablation").glob("0-seed*")) if sweep.ablation else []
    if baseline_runs:
        roles.append(("the ablation's baseline", None, baseline_runs[0]))
    elif len(sweep.trials) and (best is None or int(best["trial_number"]) != 0):
        roles.append(
            ("the first trial (a baseline where the sweep file names one)", 0, sweep.sweep_dir / "0")
        )
    ranked = sweep.ranked()
    if len(ranked) > 1:
        worst = int(ranked.iloc[-1]["trial_number"])
        roles.append(("the worst complete trial", worst, sweep.sweep_dir / str(worst)))
    plans = []
    for role, trial, run_dir in roles:
        planned = _plan_of(run_dir) if run_dir is not None else None
        if planned is None:
            continue
        plan, model = planned
        row = sweep.trials[sweep.trials["trial_number"] == trial] if trial is not None else None
        objective = float(row["objective"].iloc[0]) if row is not None and len(row) else None
        plans.append(
            {
                "role": role,
                "trial": trial,
                "objective": objective,
                "words": shapes.describe_plan(plan, model),
                "summary": plan.summary(),
            }
        )
    rungs = fidelity.rungs(sweep.trials, sweep.histories, sweep.objective_name, maximize=sweep.maximize)
    return Why(
        plans=plans,
        cells=shapes.two_way_tables(sweep.trials, table, sweep.param_keys),
        shape_effects=shapes.quantity_effects(table, scored_at=analysis.scored_at),
        rungs=rungs,
        fidelity_words=fidelity.in_words(rungs),
    )
