"""Benchmark 4's KerasTuner peer: Hyperband on deep_cnn's space, data split and time box.

    python -m benchmarks.keras_tuner_quality DATASET MINUTES RECIPE [--workdir DIR] [--train-limit N]

RECIPE is ``cnnsweep`` or ``plain`` (see :mod:`benchmarks.peers`); with ``cnnsweep`` the
baseline is Hyperband's first candidate. Hyperband runs up to the same 15 epochs with
the recipe's early stopping, and the same time box (:class:`benchmarks.peers.TimeBox`),
from the process's start: a trial ends at the epoch after which the next would not fit
(an epoch still running near training's end stops at the batch after which the next
batch and a validation pass would not), and the search
ends when a new trial's first epoch would not. The best trial by validation accuracy
is then scored on the test split. KerasTuner's oracle is seeded; its training is not (it
sets no Keras seed), so two runs differ. Prints one JSON line. Needs ``keras-tuner``
and ``tensorboard``.
"""

from __future__ import annotations

import json
import os
import time

from benchmarks import peers


def run(args) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import keras_tuner

    recipe = args.recipe
    box = peers.TimeBox(args.minutes)
    data, (x_fit, y_fit), validation, (x_test, y_test) = peers.load_split(args)

    def sample(hp: keras_tuner.HyperParameters, name: str):
        kind, *args = peers.SPACE[name]
        if kind == "choice":
            values = args[0]
            return hp.Boolean(name) if values == [True, False] else hp.Choice(name, values)
        low, high, log = args
        return hp.Float(name, low, high, sampling="log" if log else "linear")

    class DeepCnn(keras_tuner.HyperModel):
        def build(self, hp):
            params = {name: sample(hp, name) for name in peers.SPACE}
            model = peers.build_model(keras, params, data.spec.input_shape, data.spec.num_classes, recipe)
            peers.compile_model(keras, model, params, len(x_fit), recipe)
            return model

        def fit(self, hp, model, *args, **kwargs):
            batch = hp.get("batch_size")
            if recipe == "plain":
                return model.fit(x_fit, y_fit, batch_size=batch, **kwargs)
            train = peers.training_data(x_fit, y_fit, batch, recipe, data.spec.mirrors, seed=0)
            return model.fit(train, **kwargs)

    class BaselineFirst(keras_tuner.oracles.HyperbandOracle):
        """Hyperband whose first candidate is deep_cnn's baseline (cnnsweep's recipe)."""

        baseline_given = recipe != "cnnsweep"

        def _random_values(self):
            if not self.baseline_given:
                self.baseline_given = True
                values = self.hyperparameters.values.copy()
                values.update(peers.BASELINE)
                return values
            return super()._random_values()

    class TimeBoxedHyperband(keras_tuner.Hyperband):
        """Hyperband's tuner (epochs per round, weights carried over) around the oracle above."""

        def __init__(self, oracle, **kwargs):
            keras_tuner.Tuner.__init__(self, oracle=oracle, **kwargs)

        def run_trial(self, trial, *args, **kwargs):
            if not box.room_for_a_trial() and len(self.oracle.trials) > 1:  # one trial at least
                raise keras_tuner.errors.FatalError("the time box is over")
            return super().run_trial(trial, *args, **kwargs)

    oracle = BaselineFirst(objective="val_acc", max_epochs=peers.MAX_EPOCHS, factor=3, seed=0)
    tuner = TimeBoxedHyperband(
        oracle=oracle,
        hypermodel=DeepCnn(),
        directory=args.workdir,
        project_name=f"quality-{recipe}",
        overwrite=True,
    )
    stop = keras.callbacks.EarlyStopping(
        monitor="val_acc", patience=peers.patience(recipe), restore_best_weights=True
    )
    try:
        tuner.search(
            x_fit,
            y_fit,
            validation_data=validation,
            verbose=0,
            callbacks=[stop, box.callback(keras)],
        )
    except keras_tuner.errors.FatalError:
        pass  # the time box ended the search
    search_s = time.perf_counter() - box.started
    best_trial = tuner.oracle.get_best_trials(1)[0]
    model = tuner.get_best_models(1)[0]
    test_acc = peers.test_accuracy(model, x_test, y_test, recipe, data.spec.mirrors)
    return {
        "recipe": recipe,
        "wall_s": round(time.perf_counter() - box.started, 1),
        "search_s": round(search_s, 1),
        "trials": len(tuner.oracle.trials),
        "best_val_acc": round(float(best_trial.score), 4),
        "best_test_acc": round(float(test_acc), 4),
        "best_params": best_trial.hyperparameters.values,
    }


if __name__ == "__main__":
    print(json.dumps(run(peers.arguments("benchmarks.keras_tuner_quality"))))
