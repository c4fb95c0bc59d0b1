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
    hooks = hooks or TrialHooks()
    plan = plan or validate_config(cfg, memory_share=hooks.memory_share)
    data_cfg, trainer = cfg["dataset"], cfg["trainer"]
    data = dataset or load_dataset(
        data_cfg["name"], data_cfg["path"],
        train_limit=data_cfg["train_limit"], test_limit=data_cfg["test_limit"],
    )
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)

    monitor = trainer["early_stopping"]["monitor"]
    if trainer["refit_epochs"]:  # all training images, no validation, a fixed epoch count
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
        **plan.lesson_quantities(),  # flatten_side, flatten_values, receptive_field, macs_per_image
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

    select_backend(trainer["backend"])
    with released_graph_gradients():
        return _fit_and_save(cfg, plan, data, (x_fit, y_fit), (x_val, y_val), run_dir, metrics,
                             hooks=hooks, trial_number=trial_number)


@dataclass
class _Watchers:
    """The callbacks of one fit whose findings decide how the run ended."""

    callbacks: list[Any]
    early_stopping: Any  # None for a refit: a fixed epoch count
    non_finite: Any
    progress: Any
    deadline: Any = None  # the sweep's time budget, when the hooks can stop the run
    reporter: Any = None  # the pruner's ear, when one listens


def _fit_and_save(cfg: Mapping[str, Any], plan: ArchitecturePlan, data: Dataset, fit_split: tuple,
                  val_split: tuple, run_dir: Path, metrics: dict[str, Any], *, hooks: TrialHooks,
                  trial_number: int | None) -> RunResult:
    """The Keras part of :func:`train`: build, fit, then score and save as the fit ended."""
    trainer = cfg["trainer"]
    refit = bool(trainer["refit_epochs"])
    epochs = int(trainer["refit_epochs"] or trainer["epochs"])
    (x_fit, y_fit), (x_val, y_val) = fit_split, val_split
    # Subset epochs (a sweep's fidelity, written into the trial's config) train on shares of
    # the images first; the last epoch, and every epoch of a refit, on all of them.
    images = fitting.epoch_images(len(x_fit), epochs, () if refit else trainer["subset_epochs"])
    subset_epochs = sum(n < len(x_fit) for n in images)
    model = _build_model(cfg, plan, len(x_fit), images)
    metrics["backend"] = _backend_name()
    prefix = f"trial {trial_number}: " if trial_number is not None else ""
    watchers = _watchers(trainer, hooks, run_dir, metrics["direction"], epochs, prefix,
                         epoch_shares=[n / len(x_fit) for n in images], refit=refit)
    num_classes = data.spec.num_classes
    validation = (x_val, one_hot(y_val, num_classes)) if len(x_val) else None
    history, train_seconds = _fit(model, trainer, data, (x_fit, one_hot(y_fit, num_classes)), validation,
                                  images, watchers, run_dir, metrics)
    epochs_run = len(history.get("loss", []))
    metrics.update(
        epochs_run=epochs_run,
        train_seconds=round(train_seconds, 3),
        first_epoch_seconds=(round(watchers.progress.epoch_seconds[0], 3)
                             if watchers.progress.epoch_seconds else None),
        images_per_second=round(sum(images[:epochs_run]) / train_seconds, 1)
        if train_seconds > 0 else None,
    )
    if subset_epochs:
        metrics["subset_epoch_images"] = images[:subset_epochs]
    if watchers.non_finite.bad_epoch is not None:
        _fail(run_dir, metrics, history,
              f"loss became NaN/infinite in epoch {watchers.non_finite.bad_epoch}. Lower "
              f"trainer.learning_rate (now {trainer['learning_rate']}) or use model.batch_norm=true.")
    if refit:
        return _evaluate_and_save(cfg, model, data, run_dir, metrics, history, trial_number,
                                  best_index=epochs_run - 1, objective=None)
    return _score_and_save(cfg, model, data, run_dir, metrics, history, trial_number, watchers,
                           full_epochs_ran=epochs_run > subset_epochs, epochs=epochs)


def _backend_name() -> str:
    from cnnsweep.callbacks import keras

    return str(keras.backend.backend())


def _build_model(cfg: Mapping[str, Any], plan: ArchitecturePlan, n_images: int, images: list[int]) -> Any:
    """A fresh, seeded, compiled model: its learning-rate schedule spans the run's epochs."""
    from cnnsweep.callbacks import keras
    from cnnsweep.model import build_model, compile_model

    trainer = cfg["trainer"]
    # A fresh graph and name scope for every run. Without its gc.collect() (a third of a
    # second per trial); Python's own collector frees the last run's model (memory stays flat).
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(int(trainer["seed"]))
    model = build_model(plan, name=str(cfg["model"]["name"]), precision=str(trainer["precision"]))
    batch_size = int(trainer["batch_size"])
    compile_model(model, trainer, steps_per_epoch=math.ceil(n_images / batch_size),
                  epoch_steps=[math.ceil(n / batch_size) for n in images])
    return model


def _watchers(trainer: Mapping[str, Any], hooks: TrialHooks, run_dir: Path, direction: str, epochs: int,
              prefix: str, *, epoch_shares: list[float], refit: bool) -> _Watchers:
    """Early stopping, progress lines, the NaN guard and whatever the hooks listen for."""
    from cnnsweep.callbacks import (
        EpochProgress,
        EpochReporter,
        LogLearningRate,
        StopAtDeadline,
        StopOnNonFinite,
        StopWhenAsked,
        keras,
    )

    stopping = trainer["early_stopping"]
    monitor = stopping["monitor"]
    watchers = _Watchers(
        callbacks=[], non_finite=StopOnNonFinite(),
        progress=EpochProgress(epochs, log, logging.DEBUG if trainer["quiet"] else logging.INFO, prefix),
        early_stopping=None if refit else keras.callbacks.EarlyStopping(
            monitor=monitor, patience=int(stopping["patience"]), min_delta=float(stopping["min_delta"]),
            restore_best_weights=bool(stopping["restore_best_weights"]), mode="auto"))
    watchers.callbacks = [LogLearningRate(), watchers.non_finite, watchers.progress]
    if hooks.can_stop:
        watchers.deadline = StopAtDeadline(hooks)
        watchers.callbacks += [StopWhenAsked(hooks), watchers.deadline]
    if (fault := faults.batch_callback()) is not None:
        watchers.callbacks.append(fault)
    if trainer["tensorboard"]:
        from cnnsweep.callbacks import tensorboard_callbacks

        watchers.callbacks += tensorboard_callbacks(str(run_dir / run_files.TENSORBOARD_DIR),
                                                    hooks.searched_values, monitor, direction)
    if hooks.wants_epoch_logs:  # after LogLearningRate, which adds the rate to the logs
        from cnnsweep.callbacks import EpochLogs

        watchers.callbacks.append(EpochLogs(hooks))
    if hooks.reports_epochs and not refit:
        watchers.reporter = EpochReporter(monitor, hooks, epoch_shares)
        watchers.callbacks.append(watchers.reporter)
    return watchers


def _fit(model: Any, trainer: Mapping[str, Any], data: Dataset, fit_split: tuple, validation: tuple | None,
         images: list[int], watchers: _Watchers, run_dir: Path,
         metrics: dict[str, Any]) -> tuple[dict[str, list[float]], float]:
    """Fit the run's epochs; its joined history and training seconds. Out of memory fails the run."""
    histories: list[dict[str, list[float]]] = []
    started = time.perf_counter()
    try:
        fitting.fit_in_phases(model, trainer, data, fit_split, validation, images, histories,
                              callbacks=watchers.callbacks, early_stopping=watchers.early_stopping)
    except Exception as exc:
        if not _is_out_of_memory(exc):
            raise
        metrics["train_seconds"] = round(time.perf_counter() - started, 3)
        _fail(run_dir, metrics, fitting.joined(histories + [fitting.history_of(model)]),
              f"out of memory while training ({type(exc).__name__}). Lower "
              "trainer.batch_size or the model's filters / dense_units.")
    history = fitting.joined(histories)
    history["images"] = list(images[:len(history.get("loss", []))])
    return history, time.perf_counter() - started


def _score_and_save(cfg: Mapping[str, Any], model: Any, data: Dataset, run_dir: Path,
                    metrics: dict[str, Any], history: dict[str, list[float]], trial_number: int | None,
                    watchers: _Watchers, *, full_epochs_ran: bool, epochs: int) -> RunResult:
    """A searched run's end: pruned (saved without a test score), or its best epoch scored."""
    monitor = metrics["objective_name"]
    prefix = f"trial {trial_number}: " if trial_number is not None else ""
    best_index = _best_epoch_index(history[monitor], watchers.early_stopping if full_epochs_ran else None,
                                   metrics["direction"])
    objective = history[monitor][best_index]
    metrics.update(val_acc=history["val_acc"][best_index], val_loss=history["val_loss"][best_index])
    reporter, deadline = watchers.reporter, watchers.deadline
    if reporter is not None and reporter.stopped_epoch is not None:
        metrics.update(status="pruned", objective=objective, best_epoch=best_index + 1,
                       error=f"pruned after epoch {reporter.stopped_epoch}")
        _save_run(run_dir, metrics, history, title=_run_title(cfg, trial_number))
        log.info("%spruned after epoch %d (%s %.4f)", prefix, reporter.stopped_epoch, monitor,
                 history[monitor][-1])
        return RunResult("pruned", objective, metrics, history)
    if deadline is not None and deadline.stopped_epoch is not None and deadline.stopped_epoch < epochs:
        metrics["stopped_by"] = "deadline"
        log.info("%sstopped after epoch %d: the sweep's time budget ends before another epoch would",
                 prefix, deadline.stopped_epoch)
    return _evaluate_and_save(cfg, model, data, run_dir, metrics, history, trial_number,
                              best_index=best_index, objective=objective)


def _evaluate_and_save(cfg: Mapping[str, Any], model: Any, data: Dataset, run_dir: Path,
                       metrics: dict[str, Any], history: dict[str, list[float]], trial_number: int | None,
                       *, best_index: int, objective: float | None) -> RunResult:
    """Score the kept epoch on the test split, save the run's files, log the outcome."""
    trainer = cfg["trainer"]
    # One pass over the test split (two with trainer.flip_test: the images and their mirrors,
    # averaged) gives the accuracy, the loss (the compiled one, as evaluate would report it)
    # and each image's predicted class, which the report reads.
    probabilities = class_probabilities(model, data.x_test, max(int(trainer["batch_size"]), 256),
                                       mirrored=bool(trainer["flip_test"]) and data.spec.mirrors)
    predicted = probabilities.argmax(axis=1)
    test_acc = float((predicted == data.y_test).mean())
    test_loss = float(np.asarray(model.loss(one_hot(data.y_test, data.spec.num_classes), probabilities)))
    metrics.update(
        status="complete",
        objective=objective,
        best_epoch=best_index + 1,
        test_acc=float(test_acc),
        test_loss=float(test_loss),
    )
    _save_run(run_dir, metrics, history, title=_run_title(cfg, trial_number),
              model=model if trainer["save_model"] else None, predictions=predicted)
    prefix = f"trial {trial_number}: " if trial_number is not None else ""
    kept = (f"best epoch {best_index + 1}: {metrics['objective_name']} {objective:.4f}"
            if objective is not None else f"{best_index + 1} epochs on every training image")
    log.info("%s%s, test_acc %.4f, %s parameters, %.1fs", prefix, kept, test_acc,
             f"{metrics['params_count']:,}", metrics["train_seconds"])
    return RunResult("complete", objective, metrics, history)


def class_probabilities(model: Any, images: np.ndarray, batch_size: int, *, mirrored: bool) -> np.ndarray:
    """The model's class probabilities for ``images``; with ``mirrored``, the mean of those of
    each image and of its left-right mirror (which is as likely an image of its class)."""
    probabilities = np.asarray(model.predict(images, batch_size=batch_size, verbose=0))
    if mirrored:
        flipped = np.asarray(model.predict(images[:, :, ::-1], batch_size=batch_size, verbose=0))
        probabilities = (probabilities + flipped) / 2
    return probabilities


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
              title: str = "", model: Any = None, predictions: Any = None) -> None:
    """The run's files; a failed write fails the run with its reason."""
    from cnnsweep.backend import resident_memory_mb

    metrics["memory_mb"] = resident_memory_mb()
    try:
        run_files.write_run(run_dir, metrics, history, title=title, model=model,
                            draw=_curves_drawer(metrics), predictions=predictions)
    except OSError as exc:
        _fail(run_dir, metrics, history, run_files.write_error_message(exc, run_dir))


def _curves_drawer(metrics: Mapping[str, Any]) -> run_files.DrawCurves:
    """A single run draws its curves.png at once; a sweep's trial hands it to the background
    helper, so the next trial trains meanwhile (the sweep waits for the helper at its end)."""
    from cnnsweep import curves  # matplotlib only when a plot is drawn

    return curves.plot_curves_later if metrics.get("trial_number") is not None else curves.plot_curves


def _fail(run_dir: Path, metrics: dict[str, Any], history: dict[str, list[float]],
          reason: str) -> None:
    """Record the failure in ``metrics.json`` (if the disk allows) and raise it."""
    from cnnsweep.backend import resident_memory_mb

    metrics.update(status="failed", error=reason, memory_mb=resident_memory_mb())
    try:
        run_files.write_run(run_dir, metrics, history, draw=_curves_drawer(metrics))
    except OSError as exc:  # the disk may still be full: the sweep's storage keeps the reason
        log.warning("could not record the failure in %s: %s", run_dir, exc)
    raise TrainingFailed(reason, metrics=metrics)
