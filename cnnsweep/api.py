"""cnnsweep from Python, for notebooks: compose, train, sweep, load.

    import cnnsweep
    cnnsweep.compose("model=seed").summary()          # the layer plan, no Keras
    run = cnnsweep.train("dataset=digits", "trainer.epochs=2")
    run.history                                        # loss, acc, val_loss, val_acc per epoch
    result = cnnsweep.sweep("+sweep=seed_cnn", "dataset=digits", "hydra.sweeper.n_trials=6")
    result.trials, result.effects, result.best, result.show()

Training happens in a child process started fresh (never a fork) that runs the same
command a terminal would, ``python -m cnnsweep ...``; this process only reads the files
it leaves. So the calling kernel never imports TensorFlow or JAX (it cannot take a GPU
the workers need), keeps no Hydra global state, and a cell run twice never reloads an
old sweep: each call gets a new folder unless told to resume one. Interrupting the
kernel stops the child the way Ctrl-C does, and ``sweep`` returns what finished.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from cnnsweep import run_files
from cnnsweep.child import CommandFailed, error_line, run_child
from cnnsweep.errors import UserError


# ---------------------------------------------------------------- compose
@dataclass(frozen=True)
class Composed:
    """One run's resolved config and its layer plan, without Keras."""

    config: dict[str, Any]
    plan: Any  # cnnsweep.architecture.ArchitecturePlan

    def summary(self) -> str:
        """The layers, output shapes and parameter counts, as ``model.summary()`` lists them, and
        the lesson's shapes (Flatten, receptive field, multiply-adds)."""
        quantities = self.plan.lesson_quantities()
        return (
            f"{self.plan.summary()}\nFlatten sees {quantities['flatten_values']:,} values; the last "
            f"convolution sees {quantities['receptive_field']}x{quantities['receptive_field']} input "
            f"pixels; {quantities['macs_per_image']:,} multiply-adds per image"
        )

    def __repr__(self) -> str:
        return self.summary()


def compose(*overrides: str) -> Composed:
    """The config ``python -m cnnsweep OVERRIDES...`` would train, and its layer plan.

    >>> cnnsweep.compose("model=seed").plan.params_count
    216970

    Raises:
        UserError: a bad override, with the CLI's one-line message.
        Infeasible: a configuration that cannot be built (a kernel that does not fit), likewise.
    """
    from cnnsweep.architecture import plan_architecture
    from cnnsweep.config import compose as compose_config
    from cnnsweep.data.catalog import get_spec
    from cnnsweep.paths import config_dir
    from cnnsweep.preflight import check_group_choices, check_known_keys, check_value_types

    check_group_choices(overrides, config_dir())
    check_known_keys(overrides)
    check_value_types(overrides)
    config = compose_config(*overrides)
    spec = get_spec(config["dataset"]["name"])
    return Composed(config, plan_architecture(config["model"], spec.input_shape, spec.num_classes))


# ---------------------------------------------------------------- train
@dataclass
class RunResult:
    """One training run's files, read back: metrics, history, the lesson's plot, the model."""

    run_dir: Path

    @cached_property
    def metrics(self) -> dict[str, Any]:
        return run_files.read_metrics(self.run_dir) or {}

    @cached_property
    def history(self) -> pd.DataFrame:
        """One row per epoch: ``epoch``, ``loss``, ``acc``, ``val_loss``, ``val_acc``, ..."""
        path = self.run_dir / run_files.HISTORY_FILE
        return pd.read_csv(path) if path.exists() else pd.DataFrame(columns=list(run_files.HISTORY_COLUMNS))

    def plot(self) -> Any:
        """The lesson's figure: loss and val_loss, acc and val_acc per epoch (a matplotlib Figure)."""
        return _lesson_figure(self.history, f"{self.run_dir.name}")

    def model(self) -> Any:
        """The best epoch's model (``keras.models.load_model``): this imports Keras here."""
        from cnnsweep.backend import import_keras

        return import_keras().models.load_model(self.run_dir / run_files.MODEL_FILE)

    def _repr_html_(self) -> str:
        keys = (
            "status",
            "objective_name",
            "objective",
            "best_epoch",
            "test_acc",
            "params_count",
            "train_seconds",
        )
        table = pd.DataFrame([{k: self.metrics.get(k) for k in keys}]).to_html(index=False, escape=True)
        return f"<p>cnnsweep run <code>{_escape(self.run_dir)}</code></p>{table}"


def train(*overrides: str, run_dir: str | Path | None = None) -> RunResult:
    """One training run, as ``python -m cnnsweep OVERRIDES...`` does, in a child process.

    Args:
        overrides: Hydra overrides, e.g. ``"dataset=digits", "trainer.epochs=2"``.
        run_dir: where the run writes; default a new ``outputs/<date>/<time>`` folder.

    Raises:
        CommandFailed: the run stopped with an error (its one-line message).
    """
    target = Path(run_dir) if run_dir is not None else _new_dir("outputs")
    code, lines, _ = run_child([*overrides, f"hydra.run.dir={target}"], progress=None)
    if code != 0:
        raise CommandFailed(error_line(lines, code))
    return RunResult(target)


# ---------------------------------------------------------------- sweep and load
class SweepResult:
    """A sweep's files, read back: trials and effects as DataFrames, the best, the study."""

    def __init__(self, sweep_dir: str | Path, *, interrupted: bool = False) -> None:
        from cnnsweep.report.collect import is_sweep_dir

        self.sweep_dir = Path(sweep_dir)
        if not is_sweep_dir(self.sweep_dir):
            raise UserError(
                f"{self.sweep_dir} is not a sweep dir: it has no trial folders, trials.csv or "
                "Optuna storage. Give the folder a sweep wrote (multirun/<date>/<time>)."
            )
        self.interrupted = interrupted

    @cached_property
    def trials(self) -> pd.DataFrame:
        """``trials.csv``: one row per trial, every state."""
        return _read_csv(self.sweep_dir / "trials.csv")

    @cached_property
    def effects(self) -> pd.DataFrame:
        """``effects.csv``: each searched value's effect (conditional and marginal views)."""
        return _read_csv(self.sweep_dir / "effects.csv")

    @cached_property
    def results(self) -> dict[str, Any]:
        """``optimization_results.yaml`` as a dict."""
        import yaml

        path = self.sweep_dir / "optimization_results.yaml"
        return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}

    @property
    def best(self) -> dict[str, Any]:
        """The sweep's one best: trial, params, value (and what it stands on), its interval where
        the confirmation ran, test accuracy and the command that trains it again."""
        results = self.results
        best = {key[len("best_") :]: value for key, value in results.items() if key.startswith("best_")}
        config = next(
            (
                c
                for c in (results.get("confirmed") or {}).get("configs") or []
                if c.get("trial") == results.get("best_trial")
            ),
            None,
        )
        if config is not None:
            best["ci95"] = config.get("ci95")
        return best

    @cached_property
    def study(self) -> Any:
        """The Optuna study (for ``optuna.visualization`` and the dashboard)."""
        import optuna

        from cnnsweep.sweep.study.storage import open_local_study

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        return open_local_study(self.sweep_dir)

    def history(self, trial: int) -> pd.DataFrame:
        """One trial's ``history.csv``."""
        return RunResult(self.sweep_dir / str(trial)).history

    def model(self, trial: int | None = None) -> Any:
        """A trial's best-epoch model (default: the best trial's); this imports Keras here."""
        number = self.best.get("trial") if trial is None else trial
        return RunResult(self.sweep_dir / str(number)).model()

    def show(self) -> Any:
        """The report inline, in an isolated frame; ``summary.md`` and the PNGs where there is none."""
        from IPython.display import HTML, Image, Markdown, display

        report = self.sweep_dir / "report.html"
        if report.exists():
            page = _escape(report.read_text(), quote=True)
            return HTML(
                f'<iframe srcdoc="{page}" style="width:100%;height:900px;border:0" '
                'sandbox="allow-scripts"></iframe>'
            )
        summary = self.sweep_dir / "summary.md"
        if summary.exists():
            display(Markdown(summary.read_text()))
        for png in sorted(self.sweep_dir.glob("report_*.png")):
            display(Image(filename=str(png)))
        return None

    def _repr_html_(self) -> str:
        best = self.best
        states = self.trials["state"].value_counts().to_dict() if "state" in self.trials else {}
        said = ", ".join(f"{n} {s}" for s, n in states.items())
        head = (
            f"<p>cnnsweep sweep <code>{_escape(self.sweep_dir)}</code>: {len(self.trials)} trials "
            f"({said})"
            f"{' (interrupted)' if self.interrupted else ''}</p>"
        )
        if best.get("trial") is not None:
            value = best.get("value")
            head += (
                f"<p>best: trial {best['trial']}, {value if value is None else f'{value:.4f}'} "
                f"({_escape(best.get('value_is') or 'one run')}): "
                f"{_escape(', '.join(f'{k}={v}' for k, v in (best.get('params') or {}).items()))}</p>"
            )
        columns = [c for c in self.trials.columns if c not in ("error", "started", "retry_of")][:12]
        return head + self.trials[columns].head(10).to_html(index=False, escape=True)

    def __repr__(self) -> str:
        return (
            f"SweepResult({str(self.sweep_dir)!r}, trials={len(self.trials)}, best={self.best.get('trial')})"
        )


def load(sweep_dir: str | Path) -> SweepResult:
    """A finished, interrupted, resumed or SLURM sweep's results from its sweep dir.

    Raises:
        UserError: ``sweep_dir`` is not a sweep dir.
    """
    return SweepResult(sweep_dir)


def sweep(*overrides: str, sweep_dir: str | Path | None = None, resume: bool = False) -> SweepResult:
    """A sweep, as ``python -m cnnsweep --multirun OVERRIDES...`` does, in a child process, with a
    progress bar; interrupting the kernel stops it like Ctrl-C and returns what finished.

    Args:
        overrides: Hydra overrides, e.g. ``"+sweep=seed_cnn", "hydra.sweeper.n_trials=6"``.
        sweep_dir: where the sweep writes; default a new ``multirun/<date>/<time>`` folder.
        resume: continue the sweep in ``sweep_dir`` up to its ``n_trials``.

    Raises:
        UserError: ``sweep_dir`` holds a sweep and ``resume`` is false (or holds none and it is true).
        CommandFailed: the sweep stopped with an error (its one-line message).
    """
    from cnnsweep.report.collect import is_sweep_dir

    target = Path(sweep_dir) if sweep_dir is not None else _new_dir("multirun")
    exists = target.is_dir() and is_sweep_dir(target)
    if exists and not resume:
        raise UserError(
            f"{target} already holds a sweep: pass resume=True to continue it, or another "
            "sweep_dir (the default makes a new one)."
        )
    if resume and not exists:
        raise UserError(f"{target} holds no sweep to resume: leave resume=False to start one there.")
    code, lines, interrupted = run_child(
        ["--multirun", *overrides, f"hydra.sweep.dir={target}"], progress="trials"
    )
    if code != 0 and not interrupted:
        raise CommandFailed(error_line(lines, code))
    return SweepResult(target, interrupted=interrupted)


def _new_dir(root: str) -> Path:
    """A folder that does not exist yet: ``ROOT/<date>/<time>``, with a suffix if that one does."""
    now = datetime.now()
    base = Path(root) / now.strftime("%Y-%m-%d") / now.strftime("%H-%M-%S")
    target, index = base, 1
    while target.exists():
        target, index = base.with_name(f"{base.name}-{index}"), index + 1
    return target.absolute()


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if path.exists() else pd.DataFrame()


def _escape(value: object, quote: bool = False) -> str:
    import html

    return html.escape(str(value), quote=quote)


def _lesson_figure(history: pd.DataFrame, title: str) -> Any:
    """Two panels, as the lesson draws them: loss and val_loss; acc and val_acc. Drawn with pyplot,
    then closed, so a notebook shows the returned figure once (its inline backend draws it)."""
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    plt.close(figure)
    for ax, metric in zip(axes, ("loss", "acc"), strict=True):
        for column in (metric, f"val_{metric}"):
            if column in history:
                ax.plot(history["epoch"], history[column], marker="o", label=column)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.legend()
    figure.suptitle(title)
    return figure
