"""Build the report of one or several sweeps: tables, PNGs and ``report.html``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from cnnsweep.artifacts import atomic_write_text, ensure_writable_dir
from cnnsweep.errors import UserError
from cnnsweep.report import figures, html, tables
from cnnsweep.report.collect import SweepRecords, collect_sweep
from cnnsweep.timing import format_seconds

log = logging.getLogger("cnnsweep")
REPORT_FILE = "report.html"


def _check_out_dir(out: Path) -> None:
    try:
        ensure_writable_dir(out)
    except OSError as exc:
        raise UserError(f"--out {out} is not a writable directory ({exc.strerror}). "
                        "Choose another folder with --out DIR.") from None


def _layers(records: SweepRecords, best: pd.Series) -> str | None:
    """The best model's layer plan, recomputed from its config (no Keras needed)."""
    import yaml

    from cnnsweep.architecture import plan_architecture
    from cnnsweep.data import get_spec

    try:
        config = yaml.safe_load((records.sweep_dir / str(int(best["trial_number"])) / ".hydra"
                                 / "config.yaml").read_text())
        spec = get_spec(config["dataset"]["name"])
        return plan_architecture(config["model"], spec.input_shape, spec.num_classes).summary()
    except Exception:  # a missing or old config: the section is skipped
        return None


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _sweep_section(records: SweepRecords, out: Path, prefix: str, with_model: bool) -> dict[str, Any]:
    plots = [
        ("Learning curves of every trial", figures.learning_curves, "learning_curves"),
        ("Best trial: loss and accuracy per epoch", figures.best_trial_curves, "best_curves"),
        ("Optimisation history", figures.optimization_history, "history"),
        ("Objective by parameter", figures.param_effects, "params"),
        ("Parameter importance", figures.param_importance, "importance"),
        ("Parallel coordinates", figures.parallel_coordinates, "parallel"),
        ("Epochs trained and saved", figures.epoch_budget, "epochs"),
        ("Pareto front", figures.pareto_front, "pareto"),
    ]
    figure_entries = []
    for title, draw, stem in plots:
        try:
            png = draw(records, out / f"{prefix}{stem}.png")
        except Exception as exc:  # one broken plot must not cost the whole report
            log.warning("report: %s skipped (%s: %s)", title, type(exc).__name__, exc)
            png = None
        if png is not None:
            figure_entries.append({"title": title, "src": html.data_uri(png)})
    if with_model:
        try:
            confusion, examples, _ = figures.confusion_and_examples(
                records, out / f"{prefix}confusion.png", out / f"{prefix}examples.png")
            for title, png in (("Best model: confusion matrix on the test split", confusion),
                               ("Best model: test images", examples)):
                if png is not None:
                    figure_entries.append({"title": title, "src": html.data_uri(png)})
        except Exception as exc:
            log.warning("report: best-model plots skipped (%s: %s)", type(exc).__name__, exc)

    best = records.best()
    trials = tables.trials_table([records])
    problems = trials[trials["state"].isin(["failed", "infeasible"])][["trial_number", "state", "error"]]
    train_seconds = pd.to_numeric(records.trials["train_seconds"], errors="coerce").sum()
    return {
        "name": records.name,
        "sweep_dir": str(records.sweep_dir),
        "dataset": records.dataset or "-",
        "n_trials": len(records.trials),
        "budget": records.budget,
        "objective_name": records.objective_name,
        "states": records.state_counts(),
        "train_time": format_seconds(float(train_seconds)),
        "best": None if best is None else {
            "trial_number": int(best["trial_number"]),
            "objective": _fmt(best["objective"]),
            "test_acc": _fmt(best["test_acc"]),
            "params": ", ".join(f"{k}={best[k]}" for k in records.param_keys),
        },
        "figures": figure_entries,
        "top_table": html.trusted(tables.html_table(tables.top_k(records), f"top-{prefix}")),
        "trials_table": html.trusted(tables.html_table(trials, f"trials-{prefix}")),
        "problems_table": html.trusted(tables.html_table(problems, f"problems-{prefix}"))
        if not problems.empty else None,
        "layers": _layers(records, best) if best is not None else None,
        "skipped": records.problems,
    }


def build_report(sweep_dirs: Sequence[Path], out: Path | None = None, *,
                 with_model: bool = True) -> Path:
    """Collect ``sweep_dirs`` and write the tables, PNGs and ``report.html`` into ``out``.

    Args:
        sweep_dirs: one or more sweep dirs (``multirun/<date>/<time>``).
        out: where to write; default the sweep dir itself (one sweep) or
            ``./sweep-report`` (several).
        with_model: also evaluate the best model on its test split (confusion
            matrix and example images; loads Keras).

    Returns:
        The path of ``report.html``.

    Raises:
        UserError: a dir is not a sweep, holds no trials, or ``out`` is not writable.
    """
    all_records = [collect_sweep(Path(d)) for d in sweep_dirs]
    if out is None:
        out = Path(sweep_dirs[0]) if len(sweep_dirs) == 1 else Path("sweep-report")
    out = Path(out)
    _check_out_dir(out)
    for records in all_records:
        for problem in records.problems:
            log.warning("report: skipped %s", problem)
    own_table = len(all_records) == 1 and (out / "trials.csv").exists() and \
        out.resolve() == all_records[0].sweep_dir.resolve()
    if not own_table:  # a sweep's own trials.csv (written from its storage) is kept as it is
        tables.write_trials_csv(tables.trials_table(all_records), out)
    tables.write_markdown(all_records, out)
    several = len(all_records) > 1
    sections = [_sweep_section(r, out, f"report_{i}_" if several else "report_", with_model)
                for i, r in enumerate(all_records)]
    comparison = figures.compare_sweeps(all_records, out / "report_comparison.png") if several else None
    title = " vs ".join(r.name for r in all_records)
    page = html.render({
        "title": title,
        "generated": datetime.now().isoformat(timespec="seconds"),
        "sweeps": sections,
        "comparison": html.data_uri(comparison) if comparison else None,
    })
    target = out / REPORT_FILE
    atomic_write_text(target, page)
    return target
