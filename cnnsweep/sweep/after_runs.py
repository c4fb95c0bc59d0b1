"""The runs after the search (the confirmation's new seeds, the ablation path's steps), each
a whole run of one configuration: as a Hydra job of this process (``n_jobs=1``), or as
single-run commands where the sweep's workers run (``n_jobs`` local processes at a time,
or SLURM jobs). Either way each run ends as metrics, to be recorded by its caller."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnsweep import run_files
from cnnsweep.sweep.launch import RefitHooks
from cnnsweep.sweep.workers import placement

if TYPE_CHECKING:
    from cnnsweep.sweep.state import Sweep


def run_here(sweep: Sweep, launch: Callable[[RefitHooks], Mapping[str, Any]]) -> Mapping[str, Any]:
    """``launch(hooks)`` as a job of this process; a folder Hydra could not write fails the run
    with its reason. Raises KeyboardInterrupt after an interrupted run: it is not recorded, so a
    resume runs it again."""
    try:
        metrics = launch(RefitHooks(sweep.stop_request.requested))
    except OSError as exc:
        metrics = run_files.failed_metrics(run_files.write_error_message(exc, sweep.settings.sweep_dir))
    sweep.stop_request.check()
    return metrics


def run_elsewhere(
    sweep: Sweep,
    runs: Sequence[tuple[Sequence[str], str]],
    kind: str,
    record: Callable[[int, Mapping[str, Any]], None],
) -> None:
    """Each of ``runs`` (its overrides, its folder in the sweep dir) as ``python -m cnnsweep``
    where the sweep's workers run; ``record(index, metrics)`` as each ends, its metrics.json
    saying how (or its last error line when it wrote none)."""
    settings = sweep.settings
    dirs: list[Path] = [settings.sweep_dir / subdir for _, subdir in runs]
    commands = [
        [sys.executable, "-m", "cnnsweep", *overrides, "trainer.quiet=true", f"hydra.run.dir={run_dir}"]
        for (overrides, _), run_dir in zip(runs, dirs, strict=True)
    ]
    placement.run_commands(
        commands,
        n_jobs=settings.n_jobs,
        cluster=settings.cluster,
        folder=settings.sweep_dir / ".submitit" / "%j",
        name=f"cnnsweep-{sweep.study.study_name}-{kind}",
        stop_request=sweep.stop_request,
        on_end=lambda index, error: record(
            index, run_files.read_metrics(dirs[index]) or run_files.failed_metrics(error)
        ),
    )
