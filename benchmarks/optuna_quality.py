"""Benchmark 4's Optuna peer: the script a user writes with Optuna and Keras alone.

    python -m benchmarks.optuna_quality DATASET MINUTES RECIPE [--train-limit N] [--test-limit N]

TPE (seeded) and successive halving (Optuna's defaults for both), deep_cnn's space and
split, up to 15 epochs with the recipe's early stopping; a Keras callback reports
every epoch's val_acc and stops a trial the pruner prunes. With RECIPE ``cnnsweep``
the baseline is enqueued first and training follows cnnsweep's recipe (see
:mod:`benchmarks.peers`). The time box (:class:`benchmarks.peers.TimeBox`) starts with
the process: a trial ends at the epoch after which the next would not fit (an epoch
still running near training's end stops at the batch after which the next batch and a
validation pass would not), and no trial starts
whose first epoch would not. The best complete trial by validation accuracy is scored
on the test split (its model is kept in memory, so nothing is trained again). Prints
one JSON line.
"""

from __future__ import annotations

import json
import os
import time

from benchmarks import peers


def run(args) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    recipe = args.recipe
    box = peers.TimeBox(args.minutes)
    data, (x_fit, y_fit), validation, (x_test, y_test) = peers.load_split(args)
    best: dict = {"val_acc": -1.0, "model": None}

    class Pruning(keras.callbacks.Callback):
        def __init__(self, trial: optuna.Trial) -> None:
            super().__init__()
            self.trial, self.pruned = trial, False

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            self.trial.report(float(logs["val_acc"]), epoch)
            if self.trial.should_prune():
                self.pruned = True
                self.model.stop_training = True

    def suggest(trial: optuna.Trial, name: str):
        kind, *args = peers.SPACE[name]
        if kind == "choice":
            return trial.suggest_categorical(name, args[0])
        low, high, log = args
        return trial.suggest_float(name, low, high, log=log)

    def objective(trial: optuna.Trial) -> float:
        params = {name: suggest(trial, name) for name in peers.SPACE}
        keras.utils.set_random_seed(trial.number)
        model = peers.build_model(keras, params, data.spec.input_shape, data.spec.num_classes, recipe)
        peers.compile_model(keras, model, params, len(x_fit), recipe)
        pruning = Pruning(trial)
        callbacks = [
            keras.callbacks.EarlyStopping(
                monitor="val_acc", patience=peers.patience(recipe), restore_best_weights=True
            ),
            pruning,
            box.callback(keras),
        ]
        if recipe == "plain":
            history = model.fit(
                x_fit,
                y_fit,
                batch_size=params["batch_size"],
                epochs=peers.MAX_EPOCHS,
                validation_data=validation,
                callbacks=callbacks,
                verbose=0,
            )
        else:
            train = peers.training_data(
                x_fit, y_fit, params["batch_size"], recipe, data.spec.mirrors, seed=trial.number
            )
            history = model.fit(
                train, epochs=peers.MAX_EPOCHS, validation_data=validation, callbacks=callbacks, verbose=0
            )
        if pruning.pruned:
            raise optuna.TrialPruned()
        val_acc = max(history.history["val_acc"])
        if val_acc > best["val_acc"]:
            best.update(val_acc=val_acc, model=model, trial=trial.number)
        return val_acc

    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=0),
        pruner=optuna.pruners.SuccessiveHalvingPruner(),
    )
    if recipe == "cnnsweep":
        study.enqueue_trial(peers.BASELINE)

    def stop_when_no_trial_fits(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if not box.room_for_a_trial():
            study.stop()

    study.optimize(objective, callbacks=[stop_when_no_trial_fits])
    search_s = time.perf_counter() - box.started
    if best["model"] is None:
        raise SystemExit("the time box ended before any trial completed")
    test_acc = peers.test_accuracy(best["model"], x_test, y_test, recipe, data.spec.mirrors)
    states = [t.state.name for t in study.trials]
    return {
        "recipe": recipe,
        "wall_s": round(time.perf_counter() - box.started, 1),
        "search_s": round(search_s, 1),
        "trials": len(study.trials),
        "complete": states.count("COMPLETE"),
        "pruned": states.count("PRUNED"),
        "best_trial": best["trial"],
        "best_val_acc": round(float(best["val_acc"]), 4),
        "best_test_acc": round(float(test_acc), 4),
        "best_params": study.trials[best["trial"]].params,
    }


if __name__ == "__main__":
    print(json.dumps(run(peers.arguments("benchmarks.optuna_quality"))))
