"""The report's tables: trials.csv, a Markdown summary, a sortable HTML table."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from cnnsweep.atomic import atomic_write_text
from cnnsweep.report.collect import CollectedSweep
from cnnsweep.report.effects import Effect, clear_effects_in_words
from cnnsweep.run_files import RECORDED_METRICS

CONTRACT_COLUMNS = ["trial_number", "state"]
LEADING_METRICS = ["objective", "test_acc", "epochs_run", "best_epoch", "params_count", "train_seconds",
                   "images_per_second"]  # what a reader compares first; the other metrics follow
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
    """One row per confirmed configuration: its runs, mean, spread, interval and P(best)."""
    rows = []
    for config in (sweep.confirmed or {}).get("configs") or []:
        low, high = config.get("ci95") or (None, None)
        rows.append({"trial": config["trial"], "runs": config["runs"], "mean": config["mean"],
                     "std": config.get("std"), "ci95_lo": low, "ci95_hi": high, "p_best": config["p_best"]})
    return pd.DataFrame(rows, columns=["trial", "runs", "mean", "std", "ci95_lo", "ci95_hi", "p_best"])


def markdown_summary(sweeps: Sequence[CollectedSweep], k: int = 5,
                     found: Sequence[Sequence[Effect]] | None = None) -> str:
    parts = []
    for index, sweep in enumerate(sweeps):
        best = sweep.best()
        counts = ", ".join(f"{n} {s}" for s, n in sweep.state_counts().items())
        parts.append(f"# Sweep {sweep.name}\n")
        parts.append(f"- dataset: {sweep.dataset}\n- trials: {len(sweep.trials)} ({counts})")
        if best is not None:
            params = ", ".join(f"{k}={best[k]}" for k in sweep.param_keys)
            parts.append(f"- best: trial {int(best['trial_number'])}, {sweep.objective_name} "
                         f"{best['objective']:.4f}, test_acc {_four(best['test_acc'])}\n"
                         f"- best params: {params}")
            if sweep.best_command:
                parts.append(f"- train it again:\n\n```\n{sweep.best_command}\n```")
        if sweep.confirmed:
            parts.append(f"\n## Confirmed with new seeds\n\n{sweep.confirmed.get('verdict')}\n")
            parts.append(confirmed_table(sweep).to_markdown(index=False, floatfmt=".4g"))
        parts.append(f"\n## Top {k}\n")
        parts.append(top_k(sweep, k).to_markdown(index=False, floatfmt=".4g"))
        if found is not None:
            clear = clear_effects_in_words(found[index], points=in_points(sweep))
            parts.append("\n## Settings whose effect excludes zero (95%)\n")
            parts.append("\n".join(f"- `{line.split(':', 1)[0]}`:{line.split(':', 1)[1]}" for line in clear)
                         if clear else "None: no searched value's interval excludes zero.")
        parts.append("")
    return "\n".join(parts) + "\n"


def _four(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def write_markdown(sweeps: Sequence[CollectedSweep], out_dir: Path,
                   found: Sequence[Sequence[Effect]] | None = None) -> Path:
    target = out_dir / "summary.md"
    atomic_write_text(target, markdown_summary(sweeps, found=found))
    return target


def html_table(table: pd.DataFrame, table_id: str) -> str:
    """An escaped HTML table the report's script can sort by clicking a header."""
    return table.to_html(index=False, escape=True, na_rep="", float_format=lambda v: f"{v:.4g}",
                         classes="sortable", table_id=table_id, border=0)
