"""The report's PNG plots, drawn from collected records only.

Every function takes :class:`SweepRecords` (and a target path), draws one
figure with matplotlib, and returns the PNG path, or None when the sweep has
nothing to show for it (no complete trial, one parameter value, ...).
Colours are Okabe-Ito, readable with the common colour-vision deficiencies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cnnsweep.artifacts import save_atomically
from cnnsweep.report.collect import SweepRecords

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
STATE_COLOURS = {"complete": "#0072B2", "pruned": "#E69F00", "failed": "#D55E00",
                 "infeasible": "#CC79A7", "running": "#009E73"}
BEST_COLOUR = "#000000"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
                         "axes.spines.right": False, "figure.dpi": 100,
                         "axes.prop_cycle": plt.cycler(color=OKABE_ITO)})
    return plt


def _save(fig, target: Path) -> Path:
    plt = _plt()
    try:
        save_atomically(target, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    finally:
        plt.close(fig)
    return target


def _label(records: SweepRecords) -> str:
    return records.objective_name


def learning_curves(records: SweepRecords, target: Path) -> Path | None:
    """Every trial's validation curve on one axis; pruned ones faded, the best in black."""
    metric = records.objective_name if records.objective_name != "objective" else "val_acc"
    curves = {n: h for n, h in records.histories.items() if metric in h}
    if not curves:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 5), constrained_layout=True)
    states = records.trials.set_index("trial_number")["state"].to_dict()
    best = records.best()
    shown = set()
    for number, history in sorted(curves.items()):
        state = states.get(number, "complete")
        if best is not None and number == best["trial_number"]:
            continue
        faded = state == "pruned"
        ax.plot(history["epoch"], history[metric], color=STATE_COLOURS.get(state, "#999999"),
                alpha=0.3 if faded else 0.7, linestyle="--" if faded else "-", linewidth=1,
                label=state if state not in shown else None)
        shown.add(state)
    if best is not None and int(best["trial_number"]) in curves:
        history = curves[int(best["trial_number"])]
        ax.plot(history["epoch"], history[metric], color=BEST_COLOUR, linewidth=2.5,
                label=f"best: trial {int(best['trial_number'])}")
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} per epoch, every trial ({records.name})")
    ax.legend()
    return _save(fig, target)


def best_trial_curves(records: SweepRecords, target: Path) -> Path | None:
    """The notes' four-curve plot (loss, val_loss, acc, val_acc) for the best trial."""
    from cnnsweep.plots import plot_curves

    best = records.best()
    if best is None or int(best["trial_number"]) not in records.histories:
        return None
    history = records.histories[int(best["trial_number"])]
    columns = {c: history[c].tolist() for c in history.columns if c != "epoch"}
    best_epoch = int(best["best_epoch"]) if pd.notna(best.get("best_epoch")) else None
    return plot_curves(columns, target, best_epoch=best_epoch,
                       title=f"best trial {int(best['trial_number'])} ({records.name})")


def optimization_history(records: SweepRecords, target: Path) -> Path | None:
    """Each trial's objective in order, with the best so far."""
    table = records.trials.dropna(subset=["objective"]).sort_values("trial_number")
    if table.empty:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 4.5), constrained_layout=True)
    for state, group in table.groupby("state"):
        ax.scatter(group["trial_number"], group["objective"], s=36, label=state,
                   color=STATE_COLOURS.get(state, "#999999"),
                   facecolors="none" if state == "pruned" else None)
    complete = table[table["state"] == "complete"]
    if not complete.empty:
        running = complete["objective"].cummax() if records.maximize else complete["objective"].cummin()
        ax.step(complete["trial_number"], running, where="post", color=BEST_COLOUR, linewidth=2,
                label="best so far")
    ax.set_xlabel("trial number")
    ax.set_ylabel(_label(records))
    ax.set_title(f"optimisation history ({records.name})")
    ax.legend()
    return _save(fig, target)


def _is_numeric(values: pd.Series) -> bool:
    clean = values.dropna()
    return bool(len(clean)) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in clean)


def param_effects(records: SweepRecords, target: Path) -> Path | None:
    """Objective against each searched parameter (categorical ones as box + strip plots)."""
    table = records.trials[records.trials["state"] == "complete"].dropna(subset=["objective"])
    keys = [k for k in records.param_keys if k in table and table[k].nunique(dropna=True) > 1]
    if table.empty or not keys:
        return None
    plt = _plt()
    cols = min(3, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False,
                             constrained_layout=True)
    rng = np.random.default_rng(0)
    for ax, key in zip(axes.flat, keys, strict=False):
        values = table[key]
        numeric = _is_numeric(values)
        levels = sorted(values.dropna().unique(), key=lambda v: (str(type(v)), v))
        if numeric and len(levels) > 6:
            ax.scatter(values, table["objective"], s=30, color=OKABE_ITO[0], alpha=0.8)
            positive = values[values > 0]
            if len(positive) == len(values) and positive.max() / positive.min() > 100:
                ax.set_xscale("log")
        else:
            groups = [table.loc[values == level, "objective"].to_numpy() for level in levels]
            ax.boxplot(groups, tick_labels=[str(level) for level in levels], widths=0.5,
                       medianprops={"color": BEST_COLOUR})
            for i, group in enumerate(groups, start=1):
                ax.scatter(i + rng.uniform(-0.12, 0.12, len(group)), group, s=22,
                           color=OKABE_ITO[1], alpha=0.8, zorder=3)
        ax.set_xlabel(key)
        ax.set_ylabel(_label(records))
    for ax in list(axes.flat)[len(keys):]:
        ax.set_visible(False)
    fig.suptitle(f"{_label(records)} by parameter ({records.name})")
    return _save(fig, target)


def _as_study(records: SweepRecords):
    """The complete trials as an in-memory Optuna study (for importance)."""
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    table = records.trials[records.trials["state"] == "complete"].dropna(subset=["objective"])
    keys = [k for k in records.param_keys if k in table and table[k].nunique(dropna=True) > 1]
    if len(table) < 3 or not keys:
        return None, keys
    distributions: dict[str, Any] = {}
    for key in keys:
        values = table[key].dropna()
        if _is_numeric(values) and values.nunique() > 1:
            distributions[key] = FloatDistribution(float(values.min()), float(values.max()))
        else:
            distributions[key] = CategoricalDistribution(sorted({str(v) for v in values}))
    study = optuna.create_study(direction="maximize" if records.maximize else "minimize")
    for _, row in table.iterrows():
        params = {}
        for key, dist in distributions.items():
            value = row[key]
            if value is None or (isinstance(value, float) and math.isnan(value)):
                break
            params[key] = float(value) if isinstance(dist, FloatDistribution) else str(value)
        else:
            study.add_trial(optuna.trial.create_trial(params=params, distributions=distributions,
                                                      value=float(row["objective"])))
    return study, keys


def param_importance(records: SweepRecords, target: Path) -> Path | None:
    """fANOVA importance of each searched parameter for the objective."""
    import optuna

    study, keys = _as_study(records)
    if study is None or len(study.trials) < 3:
        return None
    try:
        importances = optuna.importance.get_param_importances(study, evaluator=None)
    except Exception:  # too few distinct points for the evaluator
        return None
    if not importances:
        return None
    plt = _plt()
    names = list(importances)[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(names) + 1.6), constrained_layout=True)
    ax.barh(names, [importances[n] for n in names], color=OKABE_ITO[0])
    ax.set_xlabel(f"importance for {_label(records)} (fANOVA, sums to 1)")
    ax.set_title(f"parameter importance ({records.name})")
    return _save(fig, target)


def parallel_coordinates(records: SweepRecords, target: Path) -> Path | None:
    """One line per complete trial across every parameter axis, coloured by objective."""
    table = records.trials[records.trials["state"] == "complete"].dropna(subset=["objective"])
    keys = [k for k in records.param_keys if k in table]
    if len(table) < 2 or not keys:
        return None
    plt = _plt()
    axes_names = [*keys, _label(records)]
    scaled = []
    tick_labels = []
    for key in keys:
        values = table[key]
        if _is_numeric(values):
            low, high = float(values.min()), float(values.max())
            scaled.append(((values.astype(float) - low) / (high - low or 1)).to_numpy())
            tick_labels.append((f"{low:g}", f"{high:g}"))
        else:
            levels = sorted({str(v) for v in values})
            index = {level: i for i, level in enumerate(levels)}
            scaled.append(np.array([index[str(v)] / max(1, len(levels) - 1) for v in values]))
            tick_labels.append((levels[0], levels[-1]))
    objective = table["objective"].astype(float)
    low, high = objective.min(), objective.max()
    scaled.append(((objective - low) / (high - low or 1)).to_numpy())
    tick_labels.append((f"{low:.4g}", f"{high:.4g}"))
    matrix = np.vstack(scaled).T
    fig, ax = plt.subplots(figsize=(max(6, 1.8 * len(axes_names)), 4.8), constrained_layout=True)
    cmap = plt.get_cmap("viridis")
    order = np.argsort(objective.to_numpy())
    for i in (order if records.maximize else order[::-1]):
        ax.plot(range(len(axes_names)), matrix[i], color=cmap(matrix[i, -1]), alpha=0.8, linewidth=1.4)
    for x, (bottom, top) in enumerate(tick_labels):
        ax.axvline(x, color="0.3", linewidth=0.8)
        ax.text(x, -0.06, bottom, ha="center", va="top", fontsize=8)
        ax.text(x, 1.04, top, ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(axes_names)), axes_names, rotation=15)
    ax.set_yticks([])
    ax.set_ylim(-0.15, 1.12)
    ax.grid(False)
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(low, high))
    fig.colorbar(sm, ax=ax, label=_label(records))
    ax.set_title(f"parallel coordinates ({records.name})", pad=18)
    return _save(fig, target)


def epoch_budget(records: SweepRecords, target: Path) -> Path | None:
    """Epochs trained per trial, and the epochs early stopping and pruning saved."""
    table = records.trials.dropna(subset=["epochs_run"]).sort_values("trial_number")
    if table.empty:
        return None
    plt = _plt()
    trained = table["epochs_run"].astype(int).to_numpy()
    budget = records.max_epochs or int(trained.max())
    saved = np.clip(budget - trained, 0, None)
    pruned = (table["state"] == "pruned").to_numpy()
    x = table["trial_number"].astype(int).to_numpy()
    fig, ax = plt.subplots(figsize=(max(6, 0.35 * len(x) + 3), 4.2), constrained_layout=True)
    ax.bar(x, trained, color=OKABE_ITO[0], label=f"trained ({trained.sum()} epochs)")
    ax.bar(x, np.where(pruned, 0, saved), bottom=trained, color=OKABE_ITO[2], alpha=0.6,
           label=f"saved by early stopping ({int(saved[~pruned].sum())})")
    ax.bar(x, np.where(pruned, saved, 0), bottom=trained, color=OKABE_ITO[1], alpha=0.6,
           label=f"saved by pruning ({int(saved[pruned].sum())})")
    ax.set_xlabel("trial number")
    ax.set_ylabel("epochs")
    ax.set_title(f"epochs trained of {budget} per trial ({records.name})")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, frameon=False)
    return _save(fig, target)


def pareto_front(records: SweepRecords, target: Path) -> Path | None:
    """For multi-objective sweeps: the trade-off between the first two objectives."""
    if len(records.objectives) < 2:
        return None
    first, second = records.objectives[:2]
    first = "objective" if first == "objective" else first
    table = records.trials[records.trials["state"] == "complete"].dropna(subset=[first, second])
    if table.empty:
        return None
    maximize = [d == "maximize" for d in records.directions[:2]]
    points = table[[first, second]].astype(float).to_numpy()
    signs = np.array([1 if m else -1 for m in maximize])
    front = [i for i, p in enumerate(points)
             if not any(np.all(q * signs >= p * signs) and np.any(q * signs > p * signs) for q in points)]
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 5), constrained_layout=True)
    ax.scatter(points[:, 1], points[:, 0], color=OKABE_ITO[5], s=30, label="trials")
    ordered = sorted(front, key=lambda i: points[i, 1])
    ax.plot(points[ordered, 1], points[ordered, 0], "o-", color=BEST_COLOUR, label="Pareto front")
    for i in ordered:
        ax.annotate(str(int(table.iloc[i]["trial_number"])), (points[i, 1], points[i, 0]),
                    textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel(second)
    ax.set_ylabel(records.objective_name if first == "objective" else first)
    if second == "params_count":
        ax.set_xscale("log")
    ax.set_title(f"Pareto front ({records.name})")
    ax.legend()
    return _save(fig, target)


def confusion_and_examples(records: SweepRecords, confusion_target: Path,
                           examples_target: Path) -> tuple[Path | None, Path | None, dict[str, Any]]:
    """Evaluate the best model on its test split: a confusion matrix and example images."""
    best = records.best()
    if best is None:
        return None, None, {}
    trial_dir = records.sweep_dir / str(int(best["trial_number"]))
    model_path = trial_dir / "model.keras"
    if not model_path.exists():
        return None, None, {}
    import yaml

    from cnnsweep.data import load_dataset
    from cnnsweep.runtime import import_keras

    config = yaml.safe_load((trial_dir / ".hydra" / "config.yaml").read_text())
    data_cfg = config["dataset"]
    data = load_dataset(data_cfg["name"], data_cfg.get("path"), test_limit=data_cfg.get("test_limit"))
    keras = import_keras()
    model = keras.models.load_model(model_path, safe_mode=True)
    predicted = model.predict(data.x_test, batch_size=512, verbose=0).argmax(axis=1)
    truth = data.y_test
    classes = data.spec.class_names
    matrix = np.zeros((len(classes), len(classes)), dtype=int)
    np.add.at(matrix, (truth, predicted), 1)

    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 6.5), constrained_layout=True)
    image = ax.imshow(matrix, cmap="Blues")
    ax.grid(False)
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, str(count), ha="center", va="center", fontsize=8,
                color="white" if count > matrix.max() / 2 else "black")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    accuracy = float((predicted == truth).mean())
    ax.set_title(f"best trial {int(best['trial_number'])} on the test split: accuracy {accuracy:.4f}")
    fig.colorbar(image, ax=ax)
    confusion = _save(fig, confusion_target)

    count = min(24, len(truth))
    mistakes = np.flatnonzero(predicted != truth)[: count // 2]
    shown = list(mistakes) + [i for i in range(len(truth)) if i not in set(mistakes)][: count - len(mistakes)]
    cols = 8
    rows = math.ceil(len(shown) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.5, rows * 1.75), squeeze=False,
                             constrained_layout=True)
    for ax, index in zip(axes.flat, shown, strict=False):
        image = data.x_test[index]
        ax.imshow(image.squeeze(-1) if image.shape[-1] == 1 else image,
                  cmap="gray" if image.shape[-1] == 1 else None)
        wrong = predicted[index] != truth[index]
        ax.set_title(f"{'✗' if wrong else '✓'} {classes[predicted[index]]}\n(true {classes[truth[index]]})",
                     fontsize=7, color=STATE_COLOURS["failed"] if wrong else "black")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        for spine in ax.spines.values():
            spine.set_visible(wrong)
            spine.set_color(STATE_COLOURS["failed"])
            spine.set_linewidth(3)
    for ax in list(axes.flat)[len(shown):]:
        ax.set_visible(False)
    fig.suptitle("test images: predicted (true); mistakes framed")
    examples = _save(fig, examples_target)
    return confusion, examples, {"test_accuracy": accuracy, "test_images": int(len(truth))}


def compare_sweeps(all_records: Sequence[SweepRecords], target: Path) -> Path | None:
    """Several sweeps side by side: best objective, its test accuracy, and their histories."""
    if len(all_records) < 2:
        return None
    plt = _plt()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), constrained_layout=True)
    names = [f"{r.name}\n({r.dataset})" for r in all_records]
    best = [r.best() for r in all_records]
    objective = [float(b["objective"]) if b is not None else np.nan for b in best]
    test_acc = [float(b["test_acc"]) if b is not None and pd.notna(b["test_acc"]) else np.nan for b in best]
    x = np.arange(len(all_records))
    left.bar(x - 0.2, objective, width=0.4, color=OKABE_ITO[0], label="best objective")
    left.bar(x + 0.2, test_acc, width=0.4, color=OKABE_ITO[1], label="its test_acc")
    left.set_xticks(x, names)
    left.set_title("best trial per sweep")
    left.legend()
    for i, records in enumerate(all_records):
        table = records.trials[records.trials["state"] == "complete"].sort_values("trial_number")
        if table.empty:
            continue
        running = table["objective"].cummax() if records.maximize else table["objective"].cummin()
        right.step(range(1, len(table) + 1), running, where="post", color=OKABE_ITO[i % 8],
                   label=names[i].replace("\n", " "))
    right.set_xlabel("complete trials")
    right.set_ylabel("best objective so far")
    right.set_title("progress per sweep")
    right.legend()
    return _save(fig, target)
