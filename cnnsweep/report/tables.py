"""The report's tables: trials.csv, a Markdown summary, a sortable HTML table."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from cnnsweep.atomic import atomic_write_text
from cnnsweep.report.collect import CollectedSweep
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


def markdown_summary(sweeps: Sequence[CollectedSweep], k: int = 5) -> str:
    parts = []
    for sweep in sweeps:
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
        parts.append(f"\n## Top {k}\n")
        parts.append(top_k(sweep, k).to_markdown(index=False, floatfmt=".4g"))
        parts.append("")
    return "\n".join(parts) + "\n"


def _four(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def write_markdown(sweeps: Sequence[CollectedSweep], out_dir: Path) -> Path:
    target = out_dir / "summary.md"
    atomic_write_text(target, markdown_summary(sweeps))
    return target


def html_table(table: pd.DataFrame, table_id: str) -> str:
    """An escaped HTML table the report's script can sort by clicking a header."""
    return table.to_html(index=False, escape=True, na_rep="", float_format=lambda v: f"{v:.4g}",
                         classes="sortable", table_id=table_id, border=0)
