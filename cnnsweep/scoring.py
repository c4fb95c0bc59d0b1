"""How a run ends: its kept epoch chosen, scored on the test split, and its files saved;
or, pruned, saved without a test score; or failed, with the reason in ``metrics.json``."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cnnsweep import run_files
from cnnsweep.data.catalog import Dataset
from cnnsweep.errors import TrainingFailed
from cnnsweep.watchers import Watchers

log = logging.getLogger("cnnsweep")

FLOAT32_TIE = 1e-6  # relative: two scores this close are one float32 metric read twice


@dataclass
class RunResult:
    """What a run produced; ``metrics`` is exactly what ``metrics.json`` holds."""

    status: str
    objective: float | None
    metrics: dict[str, Any]
    history: dict[str, list[float]] = field(default_factory=dict)


def one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    return np.eye(num_classes, dtype=np.float32)[labels]


def score_and_save(
    cfg: Mapping[str, Any],
    model: Any,
    data: Dataset,
    run_dir: Path,
    metrics: dict[str, Any],
    history: dict[str, list[float]],
    trial_number: int | None,
    watchers: Watchers,
    *,
    full_epochs_ran: bool,
    epochs: int,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
) -> RunResult:
    """A searched run's end: pruned (saved without a test score), or its best epoch (or the
    average of its last epochs' weights, where that validates at least as well) scored.
    ``validation``: the images and class labels the run validated on."""
    monitor = metrics["objective_name"]
    prefix = f"trial {trial_number}: " if trial_number is not None else ""
    best_index = best_epoch_index(
        history[monitor], watchers.early_stopping if full_epochs_ran else None, metrics["direction"]
    )
    objective: float | None = history[monitor][best_index]
    metrics.update(val_acc=history["val_acc"][best_index], val_loss=history["val_loss"][best_index])
    reporter, deadline = watchers.reporter, watchers.deadline
    if reporter is not None and reporter.stopped_epoch is not None:
        metrics.update(
            status="pruned",
            objective=objective,
            best_epoch=best_index + 1,
            error=f"pruned after epoch {reporter.stopped_epoch}",
        )
        save_run(run_dir, metrics, history, title=run_title(cfg, trial_number))
        log.info(
            "%spruned after epoch %d (%s %.4f)", prefix, reporter.stopped_epoch, monitor, history[monitor][-1]
        )
        return RunResult("pruned", objective, metrics, history)
    if deadline is not None and deadline.stopped_epoch is not None and deadline.stopped_epoch < epochs:
        metrics["stopped_by"] = "deadline"
        log.info(
            "%sstopped after epoch %d: the sweep's time budget ends before another epoch would",
            prefix,
            deadline.stopped_epoch,
        )
    if watchers.averager is not None:
        objective = weigh_the_average(
            model, watchers.averager, metrics, objective, validation=validation, prefix=prefix
        )
    return evaluate_and_save(
        cfg, model, data, run_dir, metrics, history, trial_number, best_index=best_index, objective=objective
    )


def weigh_the_average(
    model: Any,
    averager: Any,
    metrics: dict[str, Any],
    objective: float | None,
    *,
    validation: tuple[np.ndarray, np.ndarray] | None,
    prefix: str = "",
) -> float | None:
    """``trainer.average_epochs``: the mean of the weights after each of the last epochs takes
    the kept epoch's place in ``model`` where it validates at least as well on the monitored
    metric (a refit, which has no validation split, always takes it). ``metrics["averaged"]``
    says which epochs were averaged, how they validated and whether they were kept; returns
    the run's objective, the average's where it was kept."""
    window = averager.window()
    if window is None:
        return objective
    kept_weights = model.get_weights()
    model.set_weights(averager.average())
    record: dict[str, Any] = {"epochs": list(window), "kept": True}
    if validation is not None and len(validation[0]) and objective is not None:
        images, labels = validation
        probabilities = class_probabilities(model, images, 256, mirrored=False)
        smoothing = float(getattr(model.loss, "label_smoothing", 0.0))
        scores = {
            "val_acc": float((probabilities.argmax(axis=1) == labels).mean()),
            "val_loss": cross_entropy(labels, probabilities, label_smoothing=smoothing),
        }
        # The fit's objective is a float32 metric: the same accuracy in float64 may read a hair
        # below it, so the mean counts as validating as well within float32's precision.
        value = scores[metrics["objective_name"]]
        margin = FLOAT32_TIE * max(1.0, abs(objective))
        better = (
            value >= objective - margin if metrics["direction"] == "maximize" else value <= objective + margin
        )
        record.update(scores, kept=better)
        log.info(
            "%sthe mean of the weights of epochs %d-%d validates at %s %.4f against the best epoch's "
            "%.4f: %s",
            prefix,
            *window,
            metrics["objective_name"],
            value,
            objective,
            "kept" if better else "the best epoch kept",
        )
        if better:
            metrics.update(scores)
            objective = value
        else:
            model.set_weights(kept_weights)
    metrics["averaged"] = record
    return objective


def evaluate_and_save(
    cfg: Mapping[str, Any],
    model: Any,
    data: Dataset,
    run_dir: Path,
    metrics: dict[str, Any],
    history: dict[str, list[float]],
    trial_number: int | None,
    *,
    best_index: int,
    objective: float | None,
) -> RunResult:
    """Score the kept epoch on the test split, save the run's files, log the outcome."""
    trainer = cfg["trainer"]
    # One pass over the test split (two with trainer.flip_test: the images and their mirrors,
    # averaged) gives the accuracy, the loss (the compiled one, as evaluate would report it)
    # and each image's predicted class, which the report reads.
    probabilities = class_probabilities(
        model,
        data.x_test,
        max(int(trainer["batch_size"]), 256),
        mirrored=bool(trainer["flip_test"]) and data.spec.mirrors,
    )
    predicted = probabilities.argmax(axis=1)
    test_acc = float((predicted == data.y_test).mean())
    test_loss = cross_entropy(
        data.y_test, probabilities, label_smoothing=float(getattr(model.loss, "label_smoothing", 0.0))
    )
    metrics.update(
        status="complete",
        objective=objective,
        best_epoch=best_index + 1,
        test_acc=float(test_acc),
        test_loss=float(test_loss),
    )
    save_run(
        run_dir,
        metrics,
        history,
        title=run_title(cfg, trial_number),
        model=model if trainer["save_model"] else None,
        predictions=predicted,
        test_scores=(probabilities, data.y_test),
    )
    prefix = f"trial {trial_number}: " if trial_number is not None else ""
    kept = (
        f"best epoch {best_index + 1}: {metrics['objective_name']} {objective:.4f}"
        if objective is not None
        else f"{best_index + 1} epochs on every training image"
    )
    if (averaged := metrics.get("averaged")) and averaged["kept"]:
        first, last = averaged["epochs"]
        kept = f"weights averaged over epochs {first}-{last}" + (
            f": {metrics['objective_name']} {objective:.4f}" if objective is not None else ""
        )
    log.info(
        "%s%s, test_acc %.4f, %s parameters, %.1fs",
        prefix,
        kept,
        test_acc,
        f"{metrics['params_count']:,}",
        metrics["train_seconds"],
    )
    return RunResult("complete", objective, metrics, history)


def cross_entropy(labels: np.ndarray, probabilities: np.ndarray, *, label_smoothing: float = 0.0) -> float:
    """The mean categorical cross-entropy of ``probabilities`` for the classes ``labels``, as
    the compiled loss computes it (Keras's ``CategoricalCrossentropy``: rows rescaled to sum to
    one, clipped to [1e-7, 1 - 1e-7], the one-hot labels smoothed), in NumPy: called on the
    test split's probabilities, Keras's own loss cost ~10 ms a trial of eager tensor calls."""
    eps = 1e-7  # keras.config.epsilon(), Keras's default
    rows = probabilities / probabilities.sum(axis=1, keepdims=True)
    rows = np.clip(rows, eps, 1 - eps)
    num_classes = probabilities.shape[1]
    picked = np.log(rows[np.arange(len(labels)), labels])
    every = np.log(rows).sum(axis=1)
    # Smoothed labels: (1 - s) on the true class, s / num_classes on every class.
    per_image = -((1 - label_smoothing) * picked + label_smoothing / num_classes * every)
    return float(per_image.mean())


def class_probabilities(model: Any, images: np.ndarray, batch_size: int, *, mirrored: bool) -> np.ndarray:
    """The model's class probabilities for ``images``; with ``mirrored``, the mean of those of
    each image and of its left-right mirror (which is as likely an image of its class)."""
    probabilities = predict_once(model, images, batch_size)
    if mirrored:
        probabilities = (probabilities + predict_once(model, images[:, :, ::-1], batch_size)) / 2
    return probabilities


def predict_once(model: Any, images: np.ndarray, batch_size: int) -> np.ndarray:
    """The model's outputs for ``images``, batch by batch, calling the model itself.

    ``model.predict`` first traces a prediction function for the model, a cost (most of a
    digits trial's scoring) that a model scored once never earns back; called directly,
    the layers run as they are, with the same results."""
    outputs = [
        np.asarray(model(np.ascontiguousarray(images[start : start + batch_size]), training=False))
        for start in range(0, len(images), batch_size)
    ]
    return np.concatenate(outputs) if outputs else np.asarray(model(images, training=False))


def best_epoch_index(values: list[float], early_stopping: Any, direction: str) -> int:
    """The epoch early stopping judged best (it honours ``min_delta``)."""
    index = int(getattr(early_stopping, "best_epoch", -1))  # counts from the first epoch of all
    if 0 <= index < len(values) and math.isfinite(values[index]):
        return index
    finite = [i for i, v in enumerate(values) if math.isfinite(v)]
    if not finite:
        return len(values) - 1
    pick = min if direction == "minimize" else max
    return pick(finite, key=lambda i: values[i])


def run_title(cfg: Mapping[str, Any], trial_number: int | None) -> str:
    model = cfg["model"]
    run = f"trial {trial_number}" if trial_number is not None else "run"
    return (
        f"{run}: {cfg['dataset']['name']}, model={model['name']} "
        f"(filters {model['filters']}, kernel {model['kernel_size']}, "
        f"strides {model['strides']}, padding {model['padding']}), "
        f"batch {cfg['trainer']['batch_size']}"
    )


def save_run(
    run_dir: Path,
    metrics: dict[str, Any],
    history: dict[str, list[float]],
    *,
    title: str = "",
    model: Any = None,
    predictions: Any = None,
    test_scores: tuple[Any, Any] | None = None,
) -> None:
    """The run's files; a failed write fails the run with its reason."""
    from cnnsweep.backend import resident_memory_mb

    metrics["memory_mb"] = resident_memory_mb()
    try:
        run_files.write_run(
            run_dir,
            metrics,
            history,
            title=title,
            model=model,
            draw=curves_drawer(metrics),
            predictions=predictions,
            test_scores=test_scores,
        )
    except OSError as exc:
        fail(run_dir, metrics, history, run_files.write_error_message(exc, run_dir))


def curves_drawer(metrics: Mapping[str, Any]) -> run_files.DrawCurves:
    """A single run draws its curves.png at once; a sweep's trial hands it to the background
    helper, so the next trial trains meanwhile (the sweep waits for the helper at its end)."""
    from cnnsweep import curves, draw_helper  # matplotlib only when a plot is drawn

    return draw_helper.plot_curves_later if metrics.get("trial_number") is not None else curves.plot_curves


def draw_missing_curves(folder: Path) -> list[Path]:
    """Draw every ``curves.png`` that a run under ``folder`` asked for and never got (its
    worker, a SLURM job, was killed before the drawing helper wrote it), from the run's
    ``history.csv``; the plots drawn. A plot that cannot be drawn is logged, never raised."""
    from cnnsweep.curves import plot_curves

    drawn = []
    for metrics_file in sorted(folder.rglob(run_files.METRICS_FILE)):
        run_dir = metrics_file.parent
        target = run_dir / run_files.CURVES_FILE
        if target.exists() or any(part.startswith(".") for part in run_dir.relative_to(folder).parts):
            continue
        metrics, history = run_files.read_metrics(run_dir), run_files.read_history(run_dir)
        if metrics is None or not history:
            continue  # no run ended here (an interrupted trial), or it ran no epoch
        try:
            config = run_files.read_run_config(run_dir)
            title = (
                run_title(config, metrics.get("trial_number")) if metrics.get("status") != "failed" else ""
            )
        except (KeyError, TypeError):  # a config of another shape: the plot without its title
            title = ""
        try:
            drawn.append(plot_curves(history, target, best_epoch=metrics.get("best_epoch"), title=title))
        except Exception as exc:  # a plot is a convenience, never worth a crash
            log.warning("%s could not be drawn: %s", target, exc)
    return drawn


def fail(run_dir: Path, metrics: dict[str, Any], history: dict[str, list[float]], reason: str) -> None:
    """Record the failure in ``metrics.json`` (if the disk allows) and raise it."""
    from cnnsweep.backend import resident_memory_mb

    metrics.update(status="failed", error=reason, memory_mb=resident_memory_mb())
    try:
        run_files.write_run(run_dir, metrics, history, draw=curves_drawer(metrics))
    except OSError as exc:  # the disk may still be full: the sweep's storage keeps the reason
        log.warning("could not record the failure in %s: %s", run_dir, exc)
    raise TrainingFailed(reason, metrics=metrics)
