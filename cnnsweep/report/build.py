"""Build the report of one or several sweeps: tables, PNGs and ``report.html``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from cnnsweep import draw_helper
from cnnsweep.analysis import effects, fidelity, shapes
from cnnsweep.atomic import atomic_write_text
from cnnsweep.errors import UserError
from cnnsweep.report import evaluate, html, tables
from cnnsweep.report.collect import CollectedSweep, collect_sweep
from cnnsweep.report.figures import best_model, parameters, trials
from cnnsweep.run_files import ensure_writable_dir
from cnnsweep.sweep.study.records import write_trials_table
from cnnsweep.timing import format_seconds

log = logging.getLogger("cnnsweep")
REPORT_FILE = "report.html"


def _check_out_dir(out: Path) -> None:
    try:
        ensure_writable_dir(out)
    except OSError as exc:
        raise UserError(
            f"--out {out} is not a writable directory ({exc.strerror}). Choose another folder with --out DIR."
        ) from None


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or pd.isna(value):
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _figures(
    sweep: CollectedSweep, out: Path, prefix: str, with_model: bool, analysis: effects.Analysis
) -> list[dict[str, str]]:
    """Compute what needs computing here (Optuna's importance, the best model's predictions),
    then draw every figure, this process and the sweep's idle curves helper at once
    (:func:`cnnsweep.draw_helper.share_with_helper`). A figure that fails is skipped with a warning."""
    plots: list[tuple[str, Callable[..., Path | None], tuple, str]] = [
        (
            "From the baseline to the best, one change at a time (new-seed runs, 95% intervals)",
            trials.ablation_waterfall,
            (sweep,),
            "ablation",
        ),
        (
            "Confirmed configurations: every run, and each mean's 95% interval",
            trials.confirmed_runs,
            (sweep,),
            "confirmed",
        ),
        (
            "Effect of each searched value, the others held fixed (95% intervals)",
            parameters.effects_forest,
            (sweep, analysis),
            "effects",
        ),
        ("Learning curves of every trial", trials.learning_curves, (sweep,), "learning_curves"),
        ("Best trial: loss and accuracy per epoch", trials.best_trial_curves, (sweep,), "best_curves"),
        ("Optimisation history", trials.optimization_history, (sweep,), "history"),
        ("Objective by parameter", parameters.param_effects, (sweep,), "params"),
        ("Parameter importance", _importance_figure, (sweep,), "importance"),
        ("Parallel coordinates", parameters.parallel_coordinates, (sweep,), "parallel"),
        ("Epochs trained and saved", trials.epoch_budget, (sweep,), "epochs"),
        (
            "Pareto front",
            parameters.pareto_front,
            (sweep, _computed("Pareto front", evaluate.pareto_front, sweep)),
            "pareto",
        ),
    ]
    predictions = (
        _computed("Best-model plots", evaluate.best_model_predictions, sweep) if with_model else None
    )
    if predictions is not None:
        plots += [
            (
                "Best model: confusion matrix on the test split",
                best_model.confusion_matrix,
                (predictions,),
                "confusion",
            ),
            ("Best model: test images", best_model.example_images, (predictions,), "examples"),
        ]
    # Optuna's importance is computed where Optuna is imported already: this process takes it
    # first, while the helper draws from the other end.
    order = sorted(range(len(plots)), key=lambda i: plots[i][1] is not _importance_figure)
    drawn = draw_helper.share_with_helper(
        [(plots[i][1], (*plots[i][2], out / f"{prefix}{plots[i][3]}.png")) for i in order]
    )
    outcomes = dict(zip(order, drawn, strict=True))
    entries = []
    for i, (title, _, _, _) in enumerate(plots):
        outcome = outcomes[i]
        if (exc := outcome.exception()) is not None:  # one broken plot must not cost the whole report
            log.warning("report: %s skipped (%s: %s)", title, type(exc).__name__, exc)
        elif (png := outcome.result()) is not None:
            entries.append({"title": title, "src": html.data_uri(png)})
    return entries


def _importance_figure(sweep: CollectedSweep, target: Path) -> Path | None:
    return parameters.param_importance(sweep, evaluate.param_importance(sweep), target)


def _computed(title: str, compute: Callable[[CollectedSweep], Any], sweep: CollectedSweep) -> Any:
    """What ``compute`` finds for the figures of ``title``, or None (they then show nothing)
    with a warning if it fails."""
    try:
        return compute(sweep)
    except Exception as exc:
        log.warning("report: %s skipped (%s: %s)", title, type(exc).__name__, exc)
        return None


def _why_section(sweep: CollectedSweep, why: evaluate.Why, prefix: str) -> dict[str, Any]:
    """The "why" section's words and tables: the ablation path, the shapes, the early epochs."""
    points = tables.in_points(sweep)
    ablation = sweep.ablation or {}
    grids = []
    for name in dict.fromkeys(cell.table for cell in why.cells):
        grid = shapes.pivot(why.cells, name, points=points)
        if not grid.empty:
            grids.append({"title": name, "table": html.trusted(grid.to_html(escape=True, border=0))})
    return {
        "ablation": ablation.get("in_words"),
        "ablation_table": html.trusted(
            tables.html_table(pd.DataFrame(ablation["steps"]), f"ablation-{prefix}")
        )
        if ablation.get("steps")
        else None,
        "plans": why.plans,
        "grids": grids,
        "fidelity": why.fidelity_words,
    }


def _sweep_section(
    sweep: CollectedSweep,
    out: Path,
    prefix: str,
    with_model: bool,
    analysis: effects.Analysis,
    why: evaluate.Why,
) -> dict[str, Any]:
    figure_entries = _figures(sweep, out, prefix, with_model, analysis)
    best = tables.best_summary(sweep)
    all_trials = tables.trials_table([sweep])
    failed = all_trials["state"].isin(["failed", "infeasible"])
    problems = all_trials[failed][["trial_number", "state", "error"]]
    train_seconds = pd.to_numeric(sweep.trials["train_seconds"], errors="coerce").sum()
    return {
        "name": sweep.name,
        "sweep_dir": html.shown_path(sweep.sweep_dir, out),
        "dataset": sweep.dataset or "-",
        "n_trials": len(sweep.trials),
        "budget": sweep.budget,
        "objective_name": sweep.objective_name,
        "states": sweep.state_counts(),
        "train_time": format_seconds(float(train_seconds)),
        "best": None
        if best is None
        else {
            "trial_number": best["trial_number"],
            "objective": _fmt(best["objective"]),
            "basis": best["basis"],
            "in_words": tables.best_in_words(sweep, best),
            "single_run": tables.single_run_in_words(sweep, best),
            "test_acc": _fmt(best["test_acc"]),
            "params": best["params"],
            "command": best["command"],
            "caution": tables.budget_caution(sweep),
        },
        "figures": figure_entries,
        "top_table": html.trusted(tables.html_table(tables.top_k(sweep), f"top-{prefix}")),
        "trials_table": html.trusted(tables.html_table(all_trials, f"trials-{prefix}")),
        "problems_table": html.trusted(tables.html_table(problems, f"problems-{prefix}"))
        if not problems.empty
        else None,
        "layers": evaluate.layer_table(sweep),
        "refit": None
        if not sweep.refit
        else {
            "trial": sweep.refit.get("trial"),
            "epochs": sweep.refit.get("epochs"),
            "test_acc": _fmt(sweep.refit.get("test_acc")),
            "status": sweep.refit.get("status"),
            "error": sweep.refit.get("error"),
        },
        "ensemble": None
        if not sweep.ensemble
        else {
            "members": ", ".join(map(str, sweep.ensemble.get("members") or [])),
            "test_acc": _fmt(sweep.ensemble.get("test_acc")),
            "error": sweep.ensemble.get("error"),
        },
        "confirmed": None
        if not sweep.confirmed
        else {
            "verdict": sweep.confirmed.get("verdict"),
            "table": html.trusted(tables.html_table(tables.confirmed_table(sweep), f"confirmed-{prefix}")),
        },
        "effects": tables.effects_summary(sweep, analysis),
        "why": _why_section(sweep, why, prefix),
        "skipped": sweep.problems,
    }


def _write_effects(
    sweeps: Sequence[CollectedSweep],
    found: Sequence[effects.Analysis],
    whys: Sequence[evaluate.Why],
    out: Path,
) -> Path:
    """``effects.csv``: one row per searched key, value and view (a ``sweep`` column for several),
    the shape quantities' slopes (view ``shape``) after them; ``shape_tables.csv`` and
    ``fidelity.csv`` where there is something to put in them."""
    frames, cells, rungs = [], [], []
    for sweep, analysis, why in zip(sweeps, found, whys, strict=True):
        frame = effects.effects_frame([*analysis.effects, *why.shape_effects])
        cell_frame, rung_frame = shapes.cells_frame(why.cells), fidelity.rungs_frame(why.rungs)
        if len(sweeps) > 1:
            cell_frame.insert(0, "sweep", sweep.name)
            rung_frame.insert(0, "sweep", sweep.name)
        cells.append(cell_frame)
        rungs.append(rung_frame)
        if len(sweeps) > 1:
            frame.insert(0, "sweep", sweep.name)
        frames.append(frame)
    target = out / effects.EFFECTS_FILE
    atomic_write_text(target, pd.concat(frames, ignore_index=True).to_csv(index=False))
    for name, parts in ((shapes.SHAPE_TABLES_FILE, cells), (fidelity.FIDELITY_FILE, rungs)):
        table = pd.concat(parts, ignore_index=True)
        if not table.empty:
            atomic_write_text(out / name, table.to_csv(index=False))
    return target


def build_report(sweep_dirs: Sequence[Path], out: Path | None = None, *, with_model: bool = True) -> Path:
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
    sweeps = [collect_sweep(Path(d)) for d in sweep_dirs]
    if out is None:
        out = Path(sweep_dirs[0]) if len(sweep_dirs) == 1 else Path("sweep-report")
    out = Path(out)
    _check_out_dir(out)
    for sweep in sweeps:
        for problem in sweep.problems:
            log.warning("report: skipped %s", problem)
    own_table = (
        len(sweeps) == 1 and (out / "trials.csv").exists() and out.resolve() == sweeps[0].sweep_dir.resolve()
    )
    if not own_table:  # a sweep's own trials.csv (written from its storage) is kept as it is
        write_trials_table(tables.trials_table(sweeps), out)
    found = [evaluate.sweep_analysis(sweep) for sweep in sweeps]
    whys = [evaluate.why(sweep, analysis) for sweep, analysis in zip(sweeps, found, strict=True)]
    _write_effects(sweeps, found, whys, out)
    tables.write_markdown(sweeps, out, found)
    several = len(sweeps) > 1
    sections = [
        _sweep_section(r, out, f"report_{i}_" if several else "report_", with_model, found[i], whys[i])
        for i, r in enumerate(sweeps)
    ]
    comparison = trials.compare_sweeps(sweeps, out / "report_comparison.png") if several else None
    title = " vs ".join(r.name for r in sweeps)
    page = html.render(
        {
            "title": title,
            "generated": datetime.now().isoformat(timespec="seconds"),
            "sweeps": sections,
            "comparison": html.data_uri(comparison) if comparison else None,
        }
    )
    page = html.without_local_paths(page, [s.sweep_dir for s in sweeps], out)
    target = out / REPORT_FILE
    atomic_write_text(target, page)
    return target
