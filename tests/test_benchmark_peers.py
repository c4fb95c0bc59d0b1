"""Benchmark 4's peers train as they say: the train-longer side's schedule follows its plan."""

import math

import keras
import numpy as np
import pytest

from benchmarks import peers


def test_the_sized_schedule_warms_up_then_decays_over_the_planned_steps():
    schedule = peers.sized_cosine(keras, 0.01, steps_per_epoch=10, epochs=3)
    rate = lambda step: float(schedule(step))  # noqa: E731
    assert rate(0) == 0.0 and rate(5) == pytest.approx(0.005) and rate(10) == pytest.approx(0.01)
    assert rate(20) == pytest.approx(0.005) and rate(30) == pytest.approx(0.0, abs=1e-9)
    schedule.total_steps.assign(110.0)  # replanned to 11 epochs: halfway is now step 60
    assert rate(60) == pytest.approx(0.005) and rate(30) == pytest.approx(0.005 * (1 + math.cos(math.pi / 5)))


def test_a_fit_reads_the_replanned_length_while_it_runs():
    """Planned for 2 epochs, replanned to 8 after the first: the rate is still above zero in the
    fifth epoch (a schedule frozen at its first length would have reached zero after the second)."""
    keras.utils.set_random_seed(0)
    schedule = peers.sized_cosine(keras, 0.01, steps_per_epoch=4, epochs=2)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="categorical_crossentropy")
    rates: list[float] = []

    class Replan(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                schedule.total_steps.assign(32.0)
            rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))

    x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    y = keras.utils.to_categorical(np.arange(16) % 2, 2)
    model.fit(x, y, batch_size=4, epochs=6, callbacks=[Replan()], verbose=0)
    assert rates[4] > 0.001 and rates[4] < rates[2], rates
