"""The report's tables: trials.csv, a Markdown summary, a sortable HTML table."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from cnnsweep.artifacts import atomic_path, atomic_write_text
from cnnsweep.report.collect import SweepRecords

CONTRACT_COLUMNS = ["trial_number", "state"]
TAIL_COLUMNS = ["objective", "test_acc", "epochs_run", "best_epoch", "params_count", "train_seconds",
                "images_per_second", "val_acc", "val_loss", "test_loss", "memory_mb", "error"]


def trials_table(all_records: Sequence[SweepRecords]) -> pd.DataFrame:
    """One row per trial of every sweep; a ``sweep`` column when there are several."""
    frames = []
    for records in all_records:
        columns = [*CONTRACT_COLUMNS, *records.param_keys, *TAIL_COLUMNS]
        frame = records.trials.reindex(columns=columns)
        if len(all_records) > 1:
            frame.insert(0, "sweep", records.name)
            frame.insert(1, "dataset", records.dataset)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def write_trials_csv(table: pd.DataFrame, out_dir: Path) -> Path:
    target = out_dir / "trials.csv"
    with atomic_path(target) as tmp:
        table.to_csv(tmp, index=False)
    return target


def top_k(records: SweepRecords, k: int = 5) -> pd.DataFrame:
    done = records.trials[records.trials["state"] == "complete"].dropna(subset=["objective"])
    ordered = done.sort_values("objective", ascending=not records.maximize).head(k)
    return ordered.reindex(columns=["trial_number", *records.param_keys, "objective", "test_acc",
                                    "epochs_run", "params_count"])


def markdown_summary(all_records: Sequence[SweepRecords], k: int = 5) -> str:
    parts = []
    for records in all_records:
        best = records.best()
        counts = ", ".join(f"{n} {s}" for s, n in records.state_counts().items())
        parts.append(f"# Sweep {records.name}\n")
        parts.append(f"- dataset: {records.dataset}\n- trials: {len(records.trials)} ({counts})")
        if best is not None:
            params = ", ".join(f"{k}={best[k]}" for k in records.param_keys)
            parts.append(f"- best: trial {int(best['trial_number'])}, {records.objective_name} "
                         f"{best['objective']:.4f}, test_acc {best['test_acc']}\n- best params: {params}")
        parts.append(f"\n## Top {k}\n")
        parts.append(top_k(records, k).to_markdown(index=False, floatfmt=".4g"))
        parts.append("")
    return "\n".join(parts) + "\n"


def write_markdown(all_records: Sequence[SweepRecords], out_dir: Path) -> Path:
    target = out_dir / "summary.md"
    atomic_write_text(target, markdown_summary(all_records))
    return target


def html_table(table: pd.DataFrame, table_id: str) -> str:
    """An escaped HTML table the report's script can sort by clicking a header."""
    return table.to_html(index=False, escape=True, na_rep="", float_format=lambda v: f"{v:.4g}",
                         classes="sortable", table_id=table_id, border=0)
