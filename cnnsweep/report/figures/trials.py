"""Plots of the trials: learning curves, optimisation history, epochs, sweeps compared."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from cnnsweep.curves import plot_curves
from cnnsweep.report.collect import CollectedSweep
from cnnsweep.report.figures import BEST_COLOUR, OKABE_ITO, STATE_COLOURS, new_figure, save


def learning_curves(sweep: CollectedSweep, target: Path) -> Path | None:
    """Every trial's validation curve on one axis; pruned ones faded, the best in black."""
    metric = sweep.objective_name if sweep.objective_name != "objective" else "val_acc"
    curves = {n: h for n, h in sweep.histories.items() if metric in h}
    if not curves:
        return None
    fig, ax = new_figure(figsize=(9, 5))
    states = sweep.trials.set_index("trial_number")["state"].to_dict()
    best = sweep.best()
    shown = set()
    for number, history in sorted(curves.items()):
        state = states.get(number, "complete")
        if best is not None and number == best["trial_number"]:
            continue
        faded = state == "pruned"
        ax.plot(
            history["epoch"],
            history[metric],
            color=STATE_COLOURS.get(state, "#999999"),
            alpha=0.3 if faded else 0.7,
            linestyle="--" if faded else "-",
            linewidth=1,
            label=state if state not in shown else None,
        )
        shown.add(state)
    if best is not None and int(best["trial_number"]) in curves:
        history = curves[int(best["trial_number"])]
        ax.plot(
            history["epoch"],
            history[metric],
            color=BEST_COLOUR,
            linewidth=2.5,
            label=f"best: trial {int(best['trial_number'])}",
        )
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} per epoch, every trial ({sweep.name})")
    ax.legend()
    return save(fig, target)


def best_trial_curves(sweep: CollectedSweep, target: Path) -> Path | None:
    """The lesson's four-curve plot (loss, val_loss, acc, val_acc) for the best trial."""
    best = sweep.best()
    if best is None or int(best["trial_number"]) not in sweep.histories:
        return None
    history = sweep.histories[int(best["trial_number"])]
    columns = {c: history[c].tolist() for c in history.columns if c != "epoch"}
    best_epoch = int(best["best_epoch"]) if pd.notna(best.get("best_epoch")) else None
    return plot_curves(
        columns, target, best_epoch=best_epoch, title=f"best trial {int(best['trial_number'])} ({sweep.name})"
    )


def optimization_history(sweep: CollectedSweep, target: Path) -> Path | None:
    """Each trial's objective in order, with the best so far."""
    table = sweep.trials.dropna(subset=["objective"]).sort_values("trial_number")
    if table.empty:
        return None
    fig, ax = new_figure(figsize=(9, 4.5))
    for state, group in table.groupby("state"):
        ax.scatter(
            group["trial_number"],
            group["objective"],
            s=36,
            label=state,
            color=STATE_COLOURS.get(state, "#999999"),
            facecolors="none" if state == "pruned" else None,
        )
    complete = sweep.complete().sort_values("trial_number")
    if not complete.empty:
        running = complete["objective"].cummax() if sweep.maximize else complete["objective"].cummin()
        ax.step(
            complete["trial_number"],
            running,
            where="post",
            color=BEST_COLOUR,
            linewidth=2,
            label="best so far",
        )
    ax.set_xlabel("trial number")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(sweep.objective_name)
    ax.set_title(f"optimisation history ({sweep.name})")
    ax.legend()
    return save(fig, target)


def epoch_budget(sweep: CollectedSweep, target: Path) -> Path | None:
    """Epochs trained per trial, and the epochs early stopping and pruning saved."""
    table = sweep.trials.dropna(subset=["epochs_run"]).sort_values("trial_number")
    if table.empty:
        return None
    trained = table["epochs_run"].astype(int).to_numpy()
    budget = sweep.max_epochs or int(trained.max())
    saved = np.clip(budget - trained, 0, None)
    pruned = (table["state"] == "pruned").to_numpy()
    x = table["trial_number"].astype(int).to_numpy()
    fig, ax = new_figure(figsize=(max(6, 0.35 * len(x) + 3), 4.2))
    ax.bar(x, trained, color=OKABE_ITO[0], label=f"trained ({trained.sum()} epochs)")
    ax.bar(
        x,
        np.where(pruned, 0, saved),
        bottom=trained,
        color=OKABE_ITO[2],
        alpha=0.6,
        label=f"saved by early stopping ({int(saved[~pruned].sum())})",
    )
    ax.bar(
        x,
        np.where(pruned, saved, 0),
        bottom=trained,
        color=OKABE_ITO[1],
        alpha=0.6,
        label=f"saved by pruning ({int(saved[pruned].sum())})",
    )
    ax.set_xlabel("trial number")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("epochs")
    ax.set_title(f"epochs trained of {budget} per trial ({sweep.name})")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, frameon=False)
    return save(fig, target)


def compare_sweeps(sweeps: Sequence[CollectedSweep], target: Path) -> Path | None:
    """Several sweeps side by side: best objective, its test accuracy, and their histories."""
    if len(sweeps) < 2:
        return None
    fig, (left, right) = new_figure((12, 4.5), 1, 2)
    names = [f"{r.name}\n({r.dataset})" for r in sweeps]
    best = [r.best() for r in sweeps]
    objective = [float(b["objective"]) if b is not None else np.nan for b in best]
    test_acc = [float(b["test_acc"]) if b is not None and pd.notna(b["test_acc"]) else np.nan for b in best]
    x = np.arange(len(sweeps))
    left.bar(x - 0.2, objective, width=0.4, color=OKABE_ITO[0], label="best objective")
    left.bar(x + 0.2, test_acc, width=0.4, color=OKABE_ITO[1], label="its test_acc")
    left.set_xticks(x, names)
    left.set_title("best trial per sweep")
    left.legend()
    for i, sweep in enumerate(sweeps):
        table = sweep.complete().sort_values("trial_number")
        if table.empty:
            continue
        running = table["objective"].cummax() if sweep.maximize else table["objective"].cummin()
        right.step(
            range(1, len(table) + 1),
            running,
            where="post",
            color=OKABE_ITO[i % 8],
            label=names[i].replace("\n", " "),
        )
    right.set_xlabel("complete trials")
    right.set_ylabel("best objective so far")
    right.set_title("progress per sweep")
    right.legend()
    return save(fig, target)


def confirmed_runs(sweep: CollectedSweep, target: Path) -> Path | None:
    """Every run of each confirmed configuration (the search's selecting run hollow: shown, not
    counted), with the new runs' mean and its 95% interval: how far apart the best really are."""
    runs, confirmed = sweep.confirm_runs, sweep.confirmed
    if runs is None or runs.empty or not confirmed or not confirmed.get("configs"):
        return None
    configs = confirmed["configs"]
    fig, ax = new_figure((max(5.5, 1.3 * len(configs) + 2.5), 4.5))
    rng = np.random.default_rng(0)
    for x, config in enumerate(configs):
        mine = runs[(runs["trial"] == config["trial"]) & (runs["status"] == "complete")]
        original = (
            mine["original"].astype(str).str.lower() == "true"
            if "original" in mine
            else mine["run_dir"].astype(str) == str(config["trial"])
        )
        jitter = rng.uniform(-0.08, 0.08, len(mine))
        ax.scatter(
            x + jitter[~original.to_numpy()],
            mine.loc[~original, "objective"],
            color=OKABE_ITO[0],
            s=26,
            zorder=3,
            label="new seed" if x == 0 else None,
        )
        ax.scatter(
            x + jitter[original.to_numpy()],
            mine.loc[original, "objective"],
            facecolors="none",
            edgecolors=OKABE_ITO[3],
            s=40,
            zorder=3,
            label="the selecting run (not counted)" if x == 0 else None,
        )
        if config.get("ci95"):
            low, high = config["ci95"]
            ax.errorbar(
                x + 0.22,
                config["mean"],
                yerr=[[config["mean"] - low], [high - config["mean"]]],
                fmt="s",
                color=BEST_COLOUR,
                capsize=4,
                label="new runs' mean, 95% interval" if x == 0 else None,
            )
    ax.set_xticks(range(len(configs)), [f"trial {c['trial']}\nP(best) {c['p_best']:.2f}" for c in configs])
    ax.set_ylabel(sweep.objective_name)
    ax.set_title(f"confirmed configurations ({sweep.name})")
    ax.legend(fontsize=8)
    return save(fig, target)


def ablation_waterfall(sweep: CollectedSweep, target: Path) -> Path | None:
    """The ablation path as a waterfall: the baseline's mean, then each step's gain as a bar from
    the mean before it, each configuration's 95% interval as a whisker."""
    steps = (sweep.ablation or {}).get("steps") or []
    if len(steps) < 2 or any(s.get("mean") is None for s in steps):
        return None
    fig, ax = new_figure((max(6.0, 1.2 * len(steps) + 2.5), 4.6))
    means = [float(s["mean"]) for s in steps]
    for x, step in enumerate(steps):
        low = means[x - 1] if x else min(means) - 0.02 * (max(means) - min(means) + 1e-9)
        colour = "0.6" if not x else (OKABE_ITO[2] if means[x] >= means[x - 1] else OKABE_ITO[5])
        ax.bar(x, means[x] - low, bottom=low, color=colour, width=0.6)
        if step.get("ci95_lo") is not None and step.get("ci95_hi") is not None:
            ax.errorbar(
                x,
                means[x],
                yerr=[[means[x] - step["ci95_lo"]], [step["ci95_hi"] - means[x]]],
                fmt="none",
                ecolor="0.2",
                capsize=4,
            )
        share = step.get("share")
        if x and share is not None:
            ax.annotate(
                f"{100 * share:.0f}%",
                (x, max(means[x], means[x - 1])),
                ha="center",
                va="bottom",
                fontsize=8,
                xytext=(0, 3),
                textcoords="offset points",
            )
    labels = ["baseline", *(f"{s['setting']}\n{s['from']} -> {s['to']}" for s in steps[1:])]
    ax.set_xticks(range(len(steps)), labels, fontsize=7, rotation=20, ha="right")
    ax.set_ylabel(f"{sweep.objective_name} (mean of new-seed runs)")
    ax.set_title(f"from the baseline to the best, one change at a time ({sweep.name})")
    return save(fig, target)
