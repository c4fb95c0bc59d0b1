"""Benchmark 1's KerasTuner peer: the same configurations as the sweep, in KerasTuner.

    python -m benchmarks.keras_tuner_loop CONFIGS.json DATASET EPOCHS WORKDIR

The configurations (the sweep's, in its order) are handed to KerasTuner's random-search
oracle one per trial, so KerasTuner trains exactly what the sweep and the plain loop
train, the lesson's way, and each trial scores the test split as theirs do (early
stopping restores the best epoch first, as the plain loop's). Prints one JSON line: the
search's wall seconds, its best validation accuracy and how many trials were tested.
Needs ``keras-tuner`` and ``tensorboard`` (KerasTuner fails every trial without it).
"""

from __future__ import annotations

import json
import os
import sys
import time


def run(configs: list[dict], dataset: str, epochs: int, workdir: str) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import keras_tuner
    from keras_tuner.src.engine import trial as trial_module

    from cnnsweep.data.loader import load_dataset

    data = load_dataset(dataset)
    y_train = keras.utils.to_categorical(data.y_train, data.spec.num_classes)
    y_test = keras.utils.to_categorical(data.y_test, data.spec.num_classes)
    test_accuracies: list[float] = []

    class SeedHyperModel(keras_tuner.HyperModel):
        def build(self, hp):
            model = keras.Sequential(
                [
                    keras.Input(shape=data.spec.input_shape),
                    keras.layers.Conv2D(
                        hp.Choice("filters", [16, 32, 64, 128]),
                        (hp.Choice("kernel_size", [2, 3, 5]),) * 2,
                        strides=hp.Choice("strides", [1, 2]),
                        padding=hp.Choice("padding", ["valid", "same"]),
                        activation="relu",
                    ),
                    keras.layers.MaxPooling2D(2),
                    keras.layers.Flatten(),
                    keras.layers.Dense(data.spec.num_classes, activation="softmax"),
                ]
            )
            model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["acc"])
            return model

        def fit(self, hp, model, *args, **kwargs):
            history = model.fit(*args, batch_size=hp.Choice("batch_size", [16, 32, 64, 128]), **kwargs)
            # Every trial scores the test split, as each of the sweep's and the plain loop's does.
            _, test_acc = model.evaluate(data.x_test, y_test, verbose=0)
            test_accuracies.append(float(test_acc))
            return history

    names = {
        "model.filters": "filters",
        "model.kernel_size": "kernel_size",
        "model.strides": "strides",
        "model.padding": "padding",
        "trainer.batch_size": "batch_size",
    }
    queue = [{names[key]: value for key, value in config.items()} for config in configs]

    class GivenConfigurations(keras_tuner.oracles.RandomSearchOracle):
        """Each trial takes the next of the sweep's configurations; then the search stops."""

        def populate_space(self, trial_id):
            if not queue:
                return {"status": trial_module.TrialStatus.STOPPED, "values": None}
            values = self.hyperparameters.values.copy()
            values.update(queue.pop(0))
            return {"status": trial_module.TrialStatus.RUNNING, "values": values}

    oracle = GivenConfigurations(objective="val_acc", max_trials=len(configs), seed=0)
    tuner = keras_tuner.Tuner(
        oracle=oracle, hypermodel=SeedHyperModel(), directory=workdir, project_name="bench", overwrite=True
    )
    started = time.perf_counter()
    tuner.search(
        data.x_train,
        y_train,
        validation_split=0.2,
        epochs=epochs,
        verbose=0,
        callbacks=[keras.callbacks.EarlyStopping(monitor="val_acc", patience=3, restore_best_weights=True)],
    )
    wall = time.perf_counter() - started
    best = tuner.oracle.get_best_trials(1)[0]
    return {
        "wall_seconds": wall,
        "best_val_acc": float(best.score),
        "trials": len(tuner.oracle.trials),
        "tested_trials": len(test_accuracies),
    }


if __name__ == "__main__":
    with open(sys.argv[1]) as file:
        given = json.load(file)
    print(json.dumps(run(given, sys.argv[2], int(sys.argv[3]), sys.argv[4])))
