"""Benchmark 4's peer: KerasTuner's Hyperband on deep_cnn's space, data split and time box.

    python -m benchmarks.keras_tuner_quality DATASET MINUTES WORKDIR

The same search space as ``sweeps/deep_cnn.yaml`` (conv blocks, convs per block,
filters, batch norm, dense units, dropout, log learning rate, batch size), the
same 80/20 split of the training images (the last 20% validate, as cnnsweep's),
Hyperband up to the same 15 epochs with the same early stopping, and the same
time box: at the deadline the running trial stops at its next epoch and the
search ends. The best trial by validation accuracy is then scored on the test
split. Prints one JSON line. Needs ``keras-tuner`` and ``tensorboard``.
"""

from __future__ import annotations

import json
import os
import sys
import time


def run(dataset: str, minutes: float, workdir: str) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import keras_tuner

    from cnnsweep.data.loader import load_dataset
    from cnnsweep.train import split_validation

    started = time.perf_counter()
    deadline = started + minutes * 60
    data = load_dataset(dataset)
    classes = data.spec.num_classes
    (x_fit, y_fit), (x_val, y_val) = split_validation(data.x_train, data.y_train, 0.2)
    y_fit, y_val = keras.utils.to_categorical(y_fit, classes), keras.utils.to_categorical(y_val, classes)

    class DeepCnn(keras_tuner.HyperModel):
        def build(self, hp):
            blocks, convs = hp.Choice("conv_blocks", [2, 3]), hp.Choice("convs_per_block", [1, 2])
            filters, batch_norm = hp.Choice("filters", [16, 32, 48]), hp.Boolean("batch_norm")
            layers = [keras.Input(shape=data.spec.input_shape)]
            for block in range(blocks):
                for _ in range(convs):
                    layers.append(keras.layers.Conv2D(filters * 2 ** block, 3, padding="same",
                                                      activation=None if batch_norm else "relu"))
                    if batch_norm:
                        layers += [keras.layers.BatchNormalization(), keras.layers.Activation("relu")]
                layers.append(keras.layers.MaxPooling2D(2))
            layers += [keras.layers.Flatten(),
                       keras.layers.Dense(hp.Choice("dense_units", [64, 128, 256]), activation="relu"),
                       keras.layers.Dropout(hp.Float("dropout", 0.1, 0.5)),
                       keras.layers.Dense(classes, activation="softmax")]
            model = keras.Sequential(layers)
            rate = hp.Float("learning_rate", 5e-4, 5e-3, sampling="log")
            model.compile(optimizer=keras.optimizers.Adam(rate), loss="categorical_crossentropy",
                          metrics=["acc"])
            return model

        def fit(self, hp, model, *args, **kwargs):
            return model.fit(*args, batch_size=hp.Choice("batch_size", [64, 128, 256]), **kwargs)

    class Deadline(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if time.perf_counter() > deadline:
                self.model.stop_training = True

    class TimeBoxedHyperband(keras_tuner.Hyperband):
        def run_trial(self, trial, *args, **kwargs):
            if time.perf_counter() > deadline:
                raise keras_tuner.errors.FatalError("the time box is over")
            return super().run_trial(trial, *args, **kwargs)

    tuner = TimeBoxedHyperband(DeepCnn(), objective="val_acc", max_epochs=15, factor=3, seed=0,
                               directory=workdir, project_name="quality", overwrite=True)
    try:
        tuner.search(x_fit, y_fit, validation_data=(x_val, y_val), verbose=0,
                     callbacks=[keras.callbacks.EarlyStopping(monitor="val_acc", patience=3,
                                                              restore_best_weights=True), Deadline()])
    except keras_tuner.errors.FatalError:
        pass  # the time box ended the search
    search_s = time.perf_counter() - started
    best_trial = tuner.oracle.get_best_trials(1)[0]
    model = tuner.get_best_models(1)[0]
    _, test_acc = model.evaluate(data.x_test, keras.utils.to_categorical(data.y_test, classes),
                                 batch_size=512, verbose=0)
    return {"wall_s": round(time.perf_counter() - started, 1), "search_s": round(search_s, 1),
            "trials": len(tuner.oracle.trials), "best_val_acc": round(float(best_trial.score), 4),
            "best_test_acc": round(float(test_acc), 4), "best_params": best_trial.hyperparameters.values}


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1], float(sys.argv[2]), sys.argv[3])))
