"""One training run: config in, artifacts and an objective out.

    python -m cnnsweep dataset=digits trainer.epochs=2

:func:`train` is the plain function behind both a single run and every trial of
a sweep. It checks the config, loads the data, builds the model from its plan,
fits with early stopping, scores the best epoch and writes the contract's files
into ``run_dir``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cnnsweep import faults, fitting, run_files
from cnnsweep.architecture import ArchitecturePlan
from cnnsweep.data.catalog import Dataset
from cnnsweep.data.loader import load_dataset
from cnnsweep.errors import TrainingFailed
from cnnsweep.hooks import TrialHooks
from cnnsweep.validation import objective_direction, validate_config

log = logging.getLogger("cnnsweep")


@dataclass
class RunResult:
    """What a run produced; ``metrics`` is exactly what ``metrics.json`` holds."""

    status: str
    objective: float | None
    metrics: dict[str, Any]
    history: dict[str, list[float]] = field(default_factory=dict)


def split_validation(x: np.ndarray, y: np.ndarray, fraction: float):
    """Hold out the last ``fraction`` of the samples, as Keras's ``validation_split`` does."""
    n_val = int(round(len(x) * fraction))
    n_val = min(max(n_val, 1), len(x) - 1)
    cut = len(x) - n_val
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    return np.eye(num_classes, dtype=np.float32)[labels]


def _is_out_of_memory(exc: BaseException) -> bool:
    """TensorFlow's ResourceExhaustedError, JAX's RESOURCE_EXHAUSTED, torch's OutOfMemoryError."""
    if isinstance(exc, MemoryError) or type(exc).__name__ in ("ResourceExhaustedError", "OutOfMemoryError"):
        return True
    return "RESOURCE_EXHAUSTED" in str(exc)


def train(cfg: Mapping[str, Any], run_dir: Path, *, hooks: TrialHooks | None = None,
          trial_number: int | None = None, dataset: Dataset | None = None,
          plan: ArchitecturePlan | None = None) -> RunResult:
    """Train, evaluate and save one CNN as ``cfg`` describes.

    Args:
        cfg: a config with ``dataset``, ``model`` and ``trainer`` nodes.
        run_dir: where ``metrics.json``, ``history.csv``, ``model.keras`` and
            ``curves.png`` go (created if needed).
        hooks: whoever runs this (a sweep) hears every epoch's monitored value
            and may prune (the run ends ``pruned``) or stop it.
        trial_number: the sweep's trial number, recorded in ``metrics.json``.
        dataset: already loaded data (otherwise loaded, cached per process).
        plan: the architecture plan when the config was already validated.

    Returns:
        The run's result; ``objective`` is the monitored validation metric at the
        best epoch.

    Raises:
        UserError: the config or the data is unusable (nothing was trained).
        Infeasible: the model does not fit the images or the memory limit.
        TrainingFailed: training failed (NaN loss, out of memory, a full disk);
            ``metrics.json`` records the reason before this is raised.
    """
    plan = plan or validate_config(cfg)
    hooks = hooks or TrialHooks()
    data_cfg, trainer = cfg["dataset"], cfg["trainer"]
    data = dataset or load_dataset(
        data_cfg["name"], data_cfg.get("path"),
        train_limit=data_cfg.get("train_limit"), test_limit=data_cfg.get("test_limit"),
    )
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)

    monitor = trainer["early_stopping"]["monitor"]
    if trainer.get("refit_epochs"):  # all training images, no validation, a fixed epoch count
        (x_fit, y_fit), (x_val, y_val) = (data.x_train, data.y_train), (data.x_train[:0], data.y_train[:0])
    else:
        (x_fit, y_fit), (x_val, y_val) = split_validation(
            data.x_train, data.y_train, float(trainer["validation_split"]))

    metrics: dict[str, Any] = {
        "status": "running",
        "objective": None,
        "objective_name": monitor,
        "direction": objective_direction(monitor),
        "best_epoch": None,
        "epochs_run": 0,
        "val_acc": None,
        "val_loss": None,
        "test_acc": None,
        "test_loss": None,
        "params_count": plan.params_count,
        "train_seconds": 0.0,
        "images_per_second": None,
        "dataset": data.spec.name,
        "data_source": data.source,
        "train_images": len(x_fit),
        "val_images": len(x_val),
        "test_images": len(data.x_test),
        "seed": int(trainer["seed"]),
    }
    if trial_number is not None:
        metrics["trial_number"] = trial_number

    from cnnsweep.backend import released_graph_gradients, select_backend

    select_backend(trainer.get("backend"))
    with released_graph_gradients():
        return _fit_and_save(cfg, plan, data, (x_fit, y_fit), (x_val, y_val), run_dir, metrics,
                             hooks=hooks, trial_number=trial_number)


def _fit_and_save(cfg: Mapping[str, Any], plan: ArchitecturePlan, data: Dataset, fit_split: tuple,
                  val_split: tuple, run_dir: Path, metrics: dict[str, Any], *, hooks: TrialHooks,
                  trial_number: int | None) -> RunResult:
    """The Keras part of :func:`train`: build, fit, evaluate, save."""
    from cnnsweep.callbacks import (
        EpochProgress,
        EpochReporter,
        LogLearningRate,
        StopAtDeadline,
        StopOnNonFinite,
        StopWhenAsked,
        keras,
    )
    from cnnsweep.model import build_model, compile_model

    trainer = cfg["trainer"]
    stopping = trainer["early_stopping"]
    monitor = stopping["monitor"]
    refit_epochs = trainer.get("refit_epochs")
    epochs = int(refit_epochs or trainer["epochs"])
    num_classes = data.spec.num_classes
    (x_fit, y_fit), (x_val, y_val) = fit_split, val_split
    metrics["backend"] = keras.backend.backend()
    # A fresh graph and name scope for every run. Without its gc.collect() (a third of a
    # second per trial); Python's own collector frees the last run's model (memory stays flat).
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(int(trainer["seed"]))
    model = build_model(plan, name=str(cfg["model"]["name"]),
                        precision=str(trainer.get("precision", "float32")))
    batch_size = int(trainer["batch_size"])
    # A sweep's fidelity: the first epochs train on shares of the images; the last one on all.
    shares = hooks.epoch_fractions or tuple(float(x) for x in trainer.get("subset_epochs") or ())
    images = fitting.epoch_images(len(x_fit), epochs, () if refit_epochs else shares)
    subset_epochs = sum(n < len(x_fit) for n in images)
    compile_model(model, trainer, steps_per_epoch=math.ceil(len(x_fit) / batch_size),
                  epoch_steps=[math.ceil(n / batch_size) for n in images])

    early_stopping = keras.callbacks.EarlyStopping(
        monitor=monitor,
        patience=int(stopping["patience"]),
        min_delta=float(stopping["min_delta"]),
        restore_best_weights=bool(stopping["restore_best_weights"]),
        mode="auto",
    )
    non_finite = StopOnNonFinite()
    prefix = f"trial {trial_number}: " if trial_number is not None else ""
    progress = EpochProgress(epochs, log, logging.DEBUG if trainer.get("quiet") else logging.INFO, prefix)
    callbacks = [LogLearningRate(), non_finite, progress]
    deadline = StopAtDeadline(hooks) if hooks.can_stop else None
    if hooks.can_stop:
        callbacks += [StopWhenAsked(hooks), deadline]
    if (fault := faults.batch_callback()) is not None:
        callbacks.append(fault)
    if trainer.get("tensorboard"):
        from cnnsweep.callbacks import tensorboard_callbacks

        callbacks += tensorboard_callbacks(str(run_dir / run_files.TENSORBOARD_DIR),
                                           hooks.searched_values, monitor, metrics["direction"])
    reporter = (EpochReporter(monitor, hooks, [n / len(x_fit) for n in images])
                if hooks.reports_epochs and not refit_epochs else None)
    if reporter:
        callbacks.append(reporter)
    y_fit = one_hot(y_fit, num_classes)
    validation = (x_val, one_hot(y_val, num_classes)) if len(x_val) else None
    histories: list[dict[str, list[float]]] = []
    started = time.perf_counter()
    try:
        fitting.fit_in_phases(model, trainer, data, (x_fit, y_fit), validation, images, histories,
                              callbacks=callbacks, early_stopping=None if refit_epochs else early_stopping)
    except Exception as exc:
        if not _is_out_of_memory(exc):
            raise
        metrics["train_seconds"] = round(time.perf_counter() - started, 3)
        _fail(run_dir, metrics, fitting.joined(histories + [fitting.history_of(model)]),
              f"out of memory while training ({type(exc).__name__}). Lower "
              "trainer.batch_size or the model's filters / dense_units.")
    history = fitting.joined(histories)
    history["images"] = list(images[:len(history.get("loss", []))])
    train_seconds = time.perf_counter() - started
    epochs_run = len(history.get("loss", []))
    metrics.update(
        epochs_run=epochs_run,
        train_seconds=round(train_seconds, 3),
        first_epoch_seconds=round(progress.epoch_seconds[0], 3) if progress.epoch_seconds else None,
        images_per_second=round(sum(images[:epochs_run]) / train_seconds, 1)
        if train_seconds > 0 else None,
    )
    if subset_epochs:
        metrics["subset_epoch_images"] = images[:subset_epochs]
    if non_finite.bad_epoch is not None:
        _fail(run_dir, metrics, history,
              f"loss became NaN/infinite in epoch {non_finite.bad_epoch}. Lower "
              f"trainer.learning_rate (now {trainer['learning_rate']}) or use model.batch_norm=true.")

    if refit_epochs:
        return _evaluate_and_save(cfg, model, data, run_dir, metrics, history, trial_number,
                                  best_index=epochs_run - 1, objective=None)
    full_epochs_ran = epochs_run > subset_epochs
    best_index = _best_epoch_index(history[monitor], early_stopping if full_epochs_ran else None,
                                   metrics["direction"])
    objective = history[monitor][best_index]
    if reporter is not None and reporter.stopped_epoch is not None:
        metrics.update(status="pruned", objective=objective, best_epoch=best_index + 1,
                       val_acc=history["val_acc"][best_index], val_loss=history["val_loss"][best_index],
                       error=f"pruned after epoch {reporter.stopped_epoch}")
        _save_run(run_dir, metrics, history, title=_run_title(cfg, trial_number))
        log.info("%spruned after epoch %d (%s %.4f)", prefix, reporter.stopped_epoch, monitor,
                 history[monitor][-1])
        return RunResult("pruned", objective, metrics, history)
    if deadline is not None and deadline.stopped_epoch is not None and deadline.stopped_epoch < epochs:
        metrics["stopped_by"] = "deadline"
        log.info("%sstopped after epoch %d: the sweep's time budget ends before another epoch would",
                 prefix, deadline.stopped_epoch)
    metrics.update(val_acc=history["val_acc"][best_index], val_loss=history["val_loss"][best_index])
    return _evaluate_and_save(cfg, model, data, run_dir, metrics, history, trial_number,
                              best_index=best_index, objective=objective)


def _evaluate_and_save(cfg: Mapping[str, Any], model: Any, data: Dataset, run_dir: Path,
                       metrics: dict[str, Any], history: dict[str, list[float]], trial_number: int | None,
                       *, best_index: int, objective: float | None) -> RunResult:
    """Score the kept epoch on the test split, save the run's files, log the outcome."""
    trainer = cfg["trainer"]
    num_classes = data.spec.num_classes
    test_loss, test_acc = model.evaluate(
        data.x_test, one_hot(data.y_test, num_classes),
        batch_size=max(int(trainer["batch_size"]), 256), verbose=0,
    )
    metrics.update(
        status="complete",
        objective=objective,
        best_epoch=best_index + 1,
        test_acc=float(test_acc),
        test_loss=float(test_loss),
    )
    _save_run(run_dir, metrics, history, title=_run_title(cfg, trial_number),
              model=model if trainer.get("save_model", True) else None)
    prefix = f"trial {trial_number}: " if trial_number is not None else ""
    kept = (f"best epoch {best_index + 1}: {metrics['objective_name']} {objective:.4f}"
            if objective is not None else f"{best_index + 1} epochs on every training image")
    log.info("%s%s, test_acc %.4f, %s parameters, %.1fs", prefix, kept, test_acc,
             f"{metrics['params_count']:,}", metrics["train_seconds"])
    return RunResult("complete", objective, metrics, history)


def _best_epoch_index(values: list[float], early_stopping: Any, direction: str) -> int:
    """The epoch early stopping judged best (it honours ``min_delta``)."""
    index = int(getattr(early_stopping, "best_epoch", -1))  # counts from the first epoch of all
    if 0 <= index < len(values) and math.isfinite(values[index]):
        return index
    finite = [i for i, v in enumerate(values) if math.isfinite(v)]
    if not finite:
        return len(values) - 1
    pick = min if direction == "minimize" else max
    return pick(finite, key=lambda i: values[i])


def _run_title(cfg: Mapping[str, Any], trial_number: int | None) -> str:
    model = cfg["model"]
    run = f"trial {trial_number}" if trial_number is not None else "run"
    return (f"{run}: {cfg['dataset']['name']}, model={model['name']} "
            f"(filters {model['filters']}, kernel {model['kernel_size']}, "
            f"strides {model['strides']}, padding {model['padding']}), "
            f"batch {cfg['trainer']['batch_size']}")


def _save_run(run_dir: Path, metrics: dict[str, Any], history: dict[str, list[float]], *,
              title: str = "", model: Any = None) -> None:
    """The run's files; a failed write fails the run with its reason."""
    from cnnsweep.backend import resident_memory_mb

    metrics["memory_mb"] = resident_memory_mb()
    try:
        run_files.write_run(run_dir, metrics, history, title=title, model=model,
                            draw_later=metrics.get("trial_number") is not None)
    except OSError as exc:
        _fail(run_dir, metrics, history, run_files.write_error_message(exc, run_dir))


def _fail(run_dir: Path, metrics: dict[str, Any], history: dict[str, list[float]],
          reason: str) -> None:
    """Record the failure in ``metrics.json`` (if the disk allows) and raise it."""
    from cnnsweep.backend import resident_memory_mb

    metrics.update(status="failed", error=reason, memory_mb=resident_memory_mb())
    try:
        run_files.write_run(run_dir, metrics, history,
                            draw_later=metrics.get("trial_number") is not None)
    except OSError as exc:  # the disk may still be full: the sweep's storage keeps the reason
        log.warning("could not record the failure in %s: %s", run_dir, exc)
    raise TrainingFailed(reason, metrics=metrics)
