"""What every benchmark shares: the repository, the environment its commands run in, a timed
command, a timed sweep and its study."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]  # benchmarks/
REPO = HERE.parent
ENV = {
    **os.environ,
    "CNNSWEEP_OFFLINE": "1",
    "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
}


def run_python(*args: str, cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], cwd=cwd, env=ENV, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])} failed:\n{proc.stderr[-3000:]}")
    return wall, proc


def run_sweep(workdir: Path, name: str, *overrides: str) -> tuple[float, Path]:
    sweep_dir = workdir / name
    wall, _ = run_python(
        "-m",
        "cnnsweep",
        "--multirun",
        f"hydra.sweep.dir={sweep_dir}",
        "trainer.quiet=true",
        *overrides,
        cwd=workdir,
    )
    return wall, sweep_dir


def open_study(sweep_dir: Path):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if (sweep_dir / "optuna.db").exists():
        storage = f"sqlite:///{sweep_dir / 'optuna.db'}"
    else:
        from optuna.storages.journal import JournalFileBackend

        storage = optuna.storages.JournalStorage(JournalFileBackend(str(sweep_dir / "optuna.journal")))
    return optuna.load_study(study_name=optuna.get_all_study_names(storage)[0], storage=storage)


def trial_phase_s(study) -> float:
    """From the first trial's start to the last trial's end (storage timestamps)."""
    trials = [t for t in study.trials if t.datetime_complete]
    return (max(t.datetime_complete for t in trials) - min(t.datetime_start for t in trials)).total_seconds()


# The lesson's training (Adam at a constant rate, no label smoothing or augmentation), as the
# plain loop and KerasTuner's peer train: the benchmark measures the framework, not a recipe.
SAME_TRAINING_AS_PLAIN = ("trainer=seed", "trainer.early_stopping.monitor=val_acc")
