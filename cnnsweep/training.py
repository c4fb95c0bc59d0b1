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
from pathlib import Path
from typing import Any

import numpy as np

from cnnsweep import fitting
from cnnsweep.data.catalog import Dataset
from cnnsweep.data.loader import load_dataset
from cnnsweep.hooks import TrialHooks
from cnnsweep.plan import ArchitecturePlan
from cnnsweep.scoring import RunResult, evaluate_and_save, fail, one_hot, score_and_save, weigh_the_average
from cnnsweep.validation import objective_direction, validate_config
from cnnsweep.watchers import Watchers, assemble

log = logging.getLogger("cnnsweep")

SIZED_MAX_EPOCHS = 10_000  # a time-sized refit's fit bound: its sizer ends it (trainer.refit_seconds)


def split_validation(x: np.ndarray, y: np.ndarray, fraction: float):
    """Hold out the last ``fraction`` of the samples, as Keras's ``validation_split`` does."""
    n_val = int(round(len(x) * fraction))
    n_val = min(max(n_val, 1), len(x) - 1)
    cut = len(x) - n_val
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def _is_out_of_memory(exc: BaseException) -> bool:
    """TensorFlow's ResourceExhaustedError, JAX's RESOURCE_EXHAUSTED, torch's OutOfMemoryError."""
    if isinstance(exc, MemoryError) or type(exc).__name__ in ("ResourceExhaustedError", "OutOfMemoryError"):
        return True
    return "RESOURCE_EXHAUSTED" in str(exc)


def train(
    cfg: Mapping[str, Any],
    run_dir: Path,
    *,
    hooks: TrialHooks | None = None,
    trial_number: int | None = None,
    dataset: Dataset | None = None,
    plan: ArchitecturePlan | None = None,
) -> RunResult:
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
        data_cfg["name"],
        data_cfg["path"],
        train_limit=data_cfg["train_limit"],
        test_limit=data_cfg["test_limit"],
    )
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)

    monitor = trainer["early_stopping"]["monitor"]
    if trainer["refit_epochs"] or trainer["refit_seconds"]:  # all training images, no validation
        (x_fit, y_fit), (x_val, y_val) = (data.x_train, data.y_train), (data.x_train[:0], data.y_train[:0])
    else:
        (x_fit, y_fit), (x_val, y_val) = split_validation(
            data.x_train, data.y_train, float(trainer["validation_split"])
        )

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
        return _fit_and_save(
            cfg,
            plan,
            data,
            (x_fit, y_fit),
            (x_val, y_val),
            run_dir,
            metrics,
            hooks=hooks,
            trial_number=trial_number,
        )


def _fit_and_save(
    cfg: Mapping[str, Any],
    plan: ArchitecturePlan,
    data: Dataset,
    fit_split: tuple,
    val_split: tuple,
    run_dir: Path,
    metrics: dict[str, Any],
    *,
    hooks: TrialHooks,
    trial_number: int | None,
) -> RunResult:
    """The Keras part of :func:`train`: build, fit, then score and save as the fit ended."""
    trainer = cfg["trainer"]
    refit = bool(trainer["refit_epochs"] or trainer["refit_seconds"])
    epochs = int(trainer["refit_epochs"] or trainer["epochs"])
    (x_fit, y_fit), (x_val, y_val) = fit_split, val_split
    # Subset epochs (a sweep's fidelity, written into the trial's config) train on shares of
    # the images first; the last epoch, and every epoch of a refit, on all of them.
    images = fitting.epoch_images(len(x_fit), epochs, () if refit else trainer["subset_epochs"])
    subset_epochs = sum(n < len(x_fit) for n in images)
    model = _build_model(cfg, plan, len(x_fit), images)
    if trainer["refit_seconds"] is not None:  # its schedule starts at ``epochs``; the sizer plans the rest
        epochs = SIZED_MAX_EPOCHS
        images = [len(x_fit)] * epochs
    metrics["backend"] = _backend_name()
    prefix = f"trial {trial_number}: " if trial_number is not None else ""
    watchers = assemble(
        trainer,
        hooks,
        run_dir,
        metrics["direction"],
        epochs,
        prefix,
        epoch_shares=[n / len(x_fit) for n in images],
        refit=refit,
        steps_per_epoch=math.ceil(len(x_fit) / int(trainer["batch_size"])),
    )
    num_classes = data.spec.num_classes
    validation = (x_val, one_hot(y_val, num_classes)) if len(x_val) else None
    history, train_seconds = _fit(
        model,
        trainer,
        data,
        (x_fit, one_hot(y_fit, num_classes)),
        validation,
        images,
        watchers,
        run_dir,
        metrics,
    )
    epochs_run = len(history.get("loss", []))
    metrics.update(
        epochs_run=epochs_run,
        train_seconds=round(train_seconds, 3),
        first_epoch_seconds=(
            round(watchers.progress.epoch_seconds[0], 3) if watchers.progress.epoch_seconds else None
        ),
        images_per_second=round(sum(images[:epochs_run]) / train_seconds, 1) if train_seconds > 0 else None,
    )
    if subset_epochs:
        metrics["subset_epoch_images"] = images[:subset_epochs]
    if watchers.sizer is not None:
        metrics["epochs_planned"] = watchers.sizer.planned
    if watchers.non_finite.bad_epoch is not None:
        fail(
            run_dir,
            metrics,
            history,
            f"loss became NaN/infinite in epoch {watchers.non_finite.bad_epoch}. Lower "
            f"trainer.learning_rate (now {trainer['learning_rate']}) or use model.batch_norm=true.",
        )
    if refit:
        if watchers.averager is not None:
            weigh_the_average(model, watchers.averager, metrics, None, validation=None)
        return evaluate_and_save(
            cfg,
            model,
            data,
            run_dir,
            metrics,
            history,
            trial_number,
            best_index=epochs_run - 1,
            objective=None,
        )
    return score_and_save(
        cfg,
        model,
        data,
        run_dir,
        metrics,
        history,
        trial_number,
        watchers,
        full_epochs_ran=epochs_run > subset_epochs,
        epochs=epochs,
        validation=(x_val, y_val),
    )


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
    compile_model(
        model,
        trainer,
        steps_per_epoch=math.ceil(n_images / batch_size),
        epoch_steps=[math.ceil(n / batch_size) for n in images],
    )
    return model


def _fit(
    model: Any,
    trainer: Mapping[str, Any],
    data: Dataset,
    fit_split: tuple,
    validation: tuple | None,
    images: list[int],
    watchers: Watchers,
    run_dir: Path,
    metrics: dict[str, Any],
) -> tuple[dict[str, list[float]], float]:
    """Fit the run's epochs; its joined history and training seconds. Out of memory fails the run."""
    histories: list[dict[str, list[float]]] = []
    started = time.perf_counter()
    try:
        fitting.fit_in_phases(
            model,
            trainer,
            data,
            fit_split,
            validation,
            images,
            histories,
            callbacks=watchers.callbacks,
            early_stopping=watchers.early_stopping,
        )
    except Exception as exc:
        if not _is_out_of_memory(exc):
            raise
        metrics["train_seconds"] = round(time.perf_counter() - started, 3)
        fail(
            run_dir,
            metrics,
            fitting.joined(histories + [fitting.history_of(model)]),
            f"out of memory while training ({type(exc).__name__}). Lower "
            "trainer.batch_size or the model's filters / dense_units.",
        )
    history = fitting.joined(histories)
    history["images"] = list(images[: len(history.get("loss", []))])
    return history, time.perf_counter() - started
