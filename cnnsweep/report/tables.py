"""The report's tables: trials.csv, a Markdown summary, a sortable HTML table."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from cnnsweep.analysis.effects import AT_THE_END, Analysis, mattering_in_words
from cnnsweep.analysis.trials import budget_caution as caution_words
from cnnsweep.analysis.trials import trained_to_their_end
from cnnsweep.atomic import atomic_write_text
from cnnsweep.report.collect import CollectedSweep
from cnnsweep.run_files import RECORDED_METRICS

CONTRACT_COLUMNS = ["trial_number", "state"]
LEADING_METRICS = [
    "objective",
    "test_acc",
    "epochs_run",
    "best_epoch",
    "params_count",
    "train_seconds",
    "images_per_second",
]  # what a reader compares first; the other metrics follow
TAIL_COLUMNS = [*LEADING_METRICS, *(m for m in RECORDED_METRICS if m not in LEADING_METRICS)]


def trials_table(sweeps: Sequence[CollectedSweep]) -> pd.DataFrame:
    """One row per trial of every sweep; a ``sweep`` column when there are several."""
    frames = []
    for sweep in sweeps:
        columns = [*CONTRACT_COLUMNS, *sweep.param_keys, *TAIL_COLUMNS]
        frame = sweep.trials.reindex(columns=columns)
        if len(sweeps) > 1:
            frame.insert(0, "sweep", sweep.name)
            frame.insert(1, "dataset", sweep.dataset)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def top_k(sweep: CollectedSweep, k: int = 5) -> pd.DataFrame:
    """The ``k`` best complete trials, with their searched values and main metrics."""
    columns = ["trial_number", *sweep.param_keys, "objective", "test_acc", "epochs_run", "params_count"]
    return sweep.ranked().head(k).reindex(columns=columns)


def in_points(sweep: CollectedSweep) -> bool:
    """Whether the objective is an accuracy, whose effects read best in percentage points."""
    return sweep.objective_name.endswith("acc")


def confirmed_table(sweep: CollectedSweep) -> pd.DataFrame:
    """One row per confirmed configuration: its new runs' count, mean, spread, interval and
    P(best), and the search's selecting run with how far it overstated the configuration."""
    rows = []
    for config in (sweep.confirmed or {}).get("configs") or []:
        low, high = config.get("ci95") or (None, None)
        rows.append(
            {
                "trial": config["trial"],
                "runs": config["runs"],
                "mean": config["mean"],
                "std": config.get("std"),
                "ci95_lo": low,
                "ci95_hi": high,
                "p_best": config["p_best"],
                "selecting_run": config.get("selecting_run"),
                "overstated_by": config.get("overstated_by"),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "trial",
            "runs",
            "mean",
            "std",
            "ci95_lo",
            "ci95_hi",
            "p_best",
            "selecting_run",
            "overstated_by",
        ],
    )


def best_summary(sweep: CollectedSweep) -> dict[str, Any] | None:
    """The sweep's one best in words and numbers: the confirmed mean of its new-seed runs with
    its interval where the confirmation ran, else its single run (and it says so); beside it the
    best single run when that is another trial."""
    best = sweep.best()
    if best is None:
        return None
    number = int(best["trial_number"])
    config = sweep.confirmed_config(number)
    params = ", ".join(f"{k}={best[k]}" for k in sweep.param_keys)
    summary: dict[str, Any] = {"trial_number": number, "params": params, "command": sweep.best_command}
    if config is not None:
        answer_is_this = sweep.answer.get("best_trial") == number
        summary.update(
            objective=float(config["mean"]),
            basis=f"mean of {config['runs']} new-seed runs",
            ci95=config.get("ci95"),
            test_acc=sweep.answer.get("best_test_acc") if answer_is_this else None,
        )
        single = sweep.best_single_run()
        if single is not None:
            summary["single_run"] = {
                "trial_number": int(single["trial_number"]),
                "objective": float(single["objective"]),
                "same": int(single["trial_number"]) == number,
            }
    else:
        summary.update(
            objective=float(best["objective"]), basis="one run", ci95=None, test_acc=best["test_acc"]
        )
    return summary


def best_in_words(sweep: CollectedSweep, summary: dict[str, Any]) -> str:
    """``trial 4, val_acc 0.9012 (mean of 3 new-seed runs, 95% [0.8950, 0.9074])``."""
    interval = f", 95% [{summary['ci95'][0]:.4f}, {summary['ci95'][1]:.4f}]" if summary.get("ci95") else ""
    text = (
        f"trial {summary['trial_number']}, {sweep.objective_name} {summary['objective']:.4f} "
        f"({summary['basis']}{interval})"
    )
    if summary["basis"] == "one run":
        text += "; one run, not confirmed with new seeds (hydra.sweeper.confirm.top_k / .seeds)"
    return text


def single_run_in_words(sweep: CollectedSweep, summary: dict[str, Any]) -> str | None:
    single = summary.get("single_run")
    if not single:
        return None
    if single["same"]:
        return f"the best single run of the search was this trial too ({single['objective']:.4f})"
    return (
        f"the best single run of the search was trial {single['trial_number']} "
        f"({single['objective']:.4f}), which did not hold up with new seeds"
    )


def budget_caution(sweep: CollectedSweep) -> str | None:
    """:func:`cnnsweep.analysis.trials.budget_caution` for this sweep's trials."""
    trials = sweep.trials
    if "stopped_by" not in trials:
        return None
    cut = int((trials["stopped_by"] == "deadline").sum())
    return caution_words(int(trained_to_their_end(trials).sum()), len(trials), cut)


def effects_summary(sweep: CollectedSweep, analysis: Analysis) -> dict[str, Any]:
    """What the report says of the settings: the ones named, on which trials, or why none."""
    where = (
        "complete trials"
        if analysis.scored_at == AT_THE_END
        else f"every trial that reached {analysis.scored_at}, scored there (too few trained to the end)"
    )
    return {
        "named": mattering_in_words(analysis, points=in_points(sweep)),
        "trials": analysis.trials,
        "where": where,
        "reason": analysis.reason,
    }


def markdown_summary(
    sweeps: Sequence[CollectedSweep], k: int = 5, found: Sequence[Analysis] | None = None
) -> str:
    parts = []
    for index, sweep in enumerate(sweeps):
        best = best_summary(sweep)
        counts = ", ".join(f"{n} {s}" for s, n in sweep.state_counts().items())
        parts.append(f"# Sweep {sweep.name}\n")
        parts.append(f"- dataset: {sweep.dataset}\n- trials: {len(sweep.trials)} ({counts})")
        if best is not None:
            parts.append(
                f"- best: {best_in_words(sweep, best)}, test_acc {_four(best['test_acc'])}\n"
                f"- best params: {best['params']}"
            )
            if single := single_run_in_words(sweep, best):
                parts.append(f"- {single}")
            if sweep.best_command:
                parts.append(f"- train it again:\n\n```\n{sweep.best_command}\n```")
            if caution := budget_caution(sweep):
                parts.append(f"- budget: {caution}")
        if sweep.confirmed:
            parts.append(f"\n## Confirmed with new seeds\n\n{sweep.confirmed.get('verdict')}\n")
            parts.append(confirmed_table(sweep).to_markdown(index=False, floatfmt=".4g"))
        parts.append(f"\n## Top {k}\n")
        parts.append(top_k(sweep, k).to_markdown(index=False, floatfmt=".4g"))
        if found is not None:
            said = effects_summary(sweep, found[index])
            parts.append(f"\n## Settings that matter ({said['trials']} {said['where']})\n")
            if said["reason"]:
                parts.append(f"Not judged: {said['reason']}.")
            else:
                parts.append(
                    "\n".join(
                        f"- `{line.split(':', 1)[0]}`:{line.split(':', 1)[1]}" for line in said["named"]
                    )
                    if said["named"]
                    else "None: no searched setting passes the test (Holm, 5%)."
                )
        parts.append("")
    return "\n".join(parts) + "\n"


def _four(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def write_markdown(
    sweeps: Sequence[CollectedSweep], out_dir: Path, found: Sequence[Analysis] | None = None
) -> Path:
    target = out_dir / "summary.md"
    atomic_write_text(target, markdown_summary(sweeps, found=found))
    return target


def html_table(table: pd.DataFrame, table_id: str) -> str:
    """An escaped HTML table the report's script can sort by clicking a header."""
    return table.to_html(
        index=False,
        escape=True,
        na_rep="",
        float_format=lambda v: f"{v:.4g}",
        classes="sortable",
        table_id=table_id,
        border=0,
    )
