"""The Keras callbacks every fit gets, driven by a real tiny fit and fake hooks."""

from __future__ import annotations

import numpy as np
import pytest

from cnnsweep.hooks import TrialHooks


class Recording(TrialHooks):
    def __init__(self, prune_at: int | None = None):
        self.reported: list[tuple[int, float]] = []
        self.prune_at = prune_at

    @property
    def reports_epochs(self):
        return True

    @property
    def can_stop(self):
        return True

    def report_epoch(self, epoch, value, epochs_seen=None):
        self.reported.append((epoch, value))
        return epoch == self.prune_at


def _fit(callbacks, epochs=4):
    from cnnsweep.callbacks import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["acc"])
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = np.eye(2, dtype="float32")[np.arange(64) % 2]
    return model.fit(
        x, y, validation_data=(x, y), epochs=epochs, batch_size=16, callbacks=callbacks, verbose=0
    )


def test_epoch_reporter_hands_every_epoch_over_and_prunes_when_told():
    from cnnsweep.callbacks import EpochReporter

    hooks = Recording(prune_at=2)
    reporter = EpochReporter("val_acc", hooks)
    fit = _fit([reporter])
    assert [epoch for epoch, _ in hooks.reported] == [1, 2]
    assert reporter.stopped_epoch == 2 and len(fit.history["loss"]) == 2
    assert all(0.0 <= value <= 1.0 for _, value in hooks.reported)


def test_stop_when_asked_stops_mid_epoch_and_raises():
    import threading
    import time

    from cnnsweep.callbacks import StopWhenAsked, keras

    stop = threading.Event()

    class Asked(TrialHooks):
        def should_stop(self):
            return stop.is_set()

    class SlowBatches(keras.callbacks.Callback):
        batches = 0

        def on_train_batch_end(self, batch, logs=None):
            SlowBatches.batches += 1
            if SlowBatches.batches == 3:
                stop.set()  # Ctrl-C, three batches into the first epoch
            time.sleep(0.005)

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    x = np.zeros((16 * 400, 4), dtype="float32")
    y = np.eye(2, dtype="float32")[np.arange(len(x)) % 2]
    started = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=3, batch_size=16, callbacks=[StopWhenAsked(Asked()), SlowBatches()], verbose=0)
    assert 3 <= SlowBatches.batches < 100  # stopped mid-epoch, not after its 400 batches
    assert time.perf_counter() - started < 2


def test_non_finite_loss_stops_and_names_the_epoch():
    from cnnsweep.callbacks import StopOnNonFinite

    callback = StopOnNonFinite()
    callback.set_model(type("M", (), {"stop_training": False})())
    callback.on_epoch_end(0, {"loss": 0.5})
    assert callback.bad_epoch is None
    callback.on_epoch_end(1, {"loss": float("nan")})
    assert callback.bad_epoch == 2 and callback.model.stop_training


def test_stop_at_deadline_ends_the_fit_when_the_next_epoch_would_overrun():
    from cnnsweep.callbacks import StopAtDeadline

    class Budget(Recording):
        def __init__(self, epochs_allowed):
            super().__init__()
            self.epochs_allowed = epochs_allowed
            self.seen = 0

        def out_of_time(self, next_epoch_seconds):
            assert next_epoch_seconds > 0  # the longest epoch so far
            self.seen += 1
            return self.seen >= self.epochs_allowed

    stop = StopAtDeadline(Budget(epochs_allowed=2))
    fit = _fit([stop], epochs=6)
    assert stop.stopped_epoch == 2 and len(fit.history["loss"]) == 2


def test_the_first_full_epoch_after_fidelity_epochs_is_budgeted_as_a_full_epoch():
    """Epochs on 10% and 30% of the images, then full ones: after the 30% epoch the next
    (full) epoch is estimated at the longest epoch scaled to every image, not at the 30% one's
    time, so it is not started when only the short epoch would fit."""
    from cnnsweep.callbacks import StopAtDeadline

    stop = StopAtDeadline(TrialHooks(), epoch_shares=[0.1, 0.3, 1.0, 1.0])
    assert stop.next_epoch_seconds(0, 1.0) == pytest.approx(3.0)  # 1 s for 10%: 3 s for 30%
    assert stop.next_epoch_seconds(1, 3.0) == pytest.approx(10.0)  # then a full epoch: 10 s
    assert stop.next_epoch_seconds(2, 8.0) == pytest.approx(10.0)  # the longest estimate stays
    assert StopAtDeadline(TrialHooks()).next_epoch_seconds(0, 2.0) == pytest.approx(
        2.0
    )  # no shares: as measured


def test_sweep_hooks_are_out_of_time_only_when_an_epoch_would_end_past_the_deadline():
    import threading
    import time

    from cnnsweep.sweep.launch import SweepTrialHooks

    hooks = SweepTrialHooks(trial=None, stop=threading.Event(), deadline=time.time() + 10)  # type: ignore[arg-type]
    assert not hooks.out_of_time(next_epoch_seconds=5)
    assert hooks.out_of_time(next_epoch_seconds=15)
    assert not SweepTrialHooks(trial=None, stop=threading.Event()).out_of_time(10**9)  # type: ignore[arg-type]


# ---------------------------------------------------------------- a time-sized refit
def test_a_time_sized_fit_plans_from_its_measured_epochs():
    from cnnsweep.callbacks import SizeToTime

    sizer = SizeToTime(seconds=20.0, steps_per_epoch=4)
    # After the second epoch (2 s) with 5 s spent: the 15 s left hold 7 more.
    assert sizer.plan(1, 2.0, 5.0) == 9
    assert sizer.plan(0, 30.0, 30.0) == 1  # not even one more fits: stop after this one


def test_a_time_sized_fit_trains_to_its_planned_end_with_the_schedule_moved_there():
    """Planned for 2 epochs when compiled, replanned to 8 after the first: the weights still
    move in the sixth epoch (a step traced with the first plan would train at rate 0 after
    the second), the rate reaches 0 at the last, and the fit stops there."""
    from cnnsweep.callbacks import SizeToTime, keras
    from cnnsweep.recipe import SizedCosine

    keras.utils.set_random_seed(0)
    schedule = SizedCosine(0.05, total_steps=2 * 4, warmup_steps=4)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="categorical_crossentropy")
    sizer = SizeToTime(seconds=1e6, steps_per_epoch=4)
    sizer.plan = lambda epoch, epoch_seconds, elapsed: 8  # type: ignore[method-assign]
    weights: list[np.ndarray] = []
    rates: list[float] = []

    class Watch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            weights.append(np.array(self.model.layers[-1].kernel))
            rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))

    x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    y = keras.utils.to_categorical(np.arange(16) % 2, 2)
    history = model.fit(x, y, batch_size=4, epochs=100, callbacks=[sizer, Watch()], verbose=0)
    assert len(history.history["loss"]) == 8 and sizer.planned == 8
    assert not np.allclose(weights[5], weights[4]), "the traced step kept the first plan's schedule"
    assert rates[-1] == pytest.approx(0.0, abs=1e-6) and rates[3] > 0.01


def test_a_time_sized_fit_shortens_its_plan_when_its_epochs_run_slower(monkeypatch):
    """Planned from a 10 s epoch, then every epoch takes 14 s: the plan shrinks and the fit
    ends within its 100 s (the first plan, held, would have ended at 120 s)."""
    clock, model, sizer = _fake_sized_fit(monkeypatch, seconds=100.0)
    plans = _run_epochs(sizer, model, clock, [12.0, 10.0] + [14.0] * 20)
    assert plans[1] == 9 and plans[-1] == 7 < plans[1] and len(plans) == 7
    assert clock[0] <= 100.0 and model.optimizer._learning_rate.total_steps == 70.0 and model.traced


def test_a_time_sized_fit_grows_its_plan_back_after_one_slow_epoch(monkeypatch):
    """The second epoch takes 14 s, every other 10 s: planned from it, the fit would stop at
    7 epochs and 76 of its 100 s; it replans from the typical epoch and trains 9 in 96 s.
    Later one 30 s epoch among the 10 s ones does not cut the plan."""
    clock, model, sizer = _fake_sized_fit(monkeypatch, seconds=100.0)
    plans = _run_epochs(sizer, model, clock, [12.0, 14.0] + [10.0] * 20)
    assert plans[1] == 7 and max(plans) == plans[-1] == len(plans) == 9
    assert 90.0 <= clock[0] <= 100.0

    clock, model, sizer = _fake_sized_fit(monkeypatch, seconds=120.0)
    plans = _run_epochs(sizer, model, clock, [12.0, 10.0, 10.0, 10.0, 30.0] + [10.0] * 20)
    assert plans[4] == plans[3] - 2  # the slow epoch's own 20 s extra, no more
    assert plans[-1] == len(plans) and clock[0] <= 120.0


def _fake_sized_fit(monkeypatch, seconds):
    from types import SimpleNamespace

    from cnnsweep import callbacks
    from cnnsweep.recipe import SizedCosine

    clock = [0.0]
    monkeypatch.setattr(callbacks.SizeToTime, "clock", staticmethod(lambda: clock[0]))
    model = SimpleNamespace(
        optimizer=SimpleNamespace(_learning_rate=SizedCosine(0.01, total_steps=30, warmup_steps=10)),
        make_train_function=lambda force: model.traced.append(force),
        stop_training=False,
        traced=[],
    )
    sizer = callbacks.SizeToTime(seconds=seconds, steps_per_epoch=10)
    sizer.set_model(model)
    sizer.on_train_begin()
    return clock, model, sizer


def _run_epochs(sizer, model, clock, epoch_seconds):
    plans = []
    for epoch, seconds in enumerate(epoch_seconds):
        sizer.on_epoch_begin(epoch)
        clock[0] += seconds
        sizer.on_epoch_end(epoch)
        plans.append(sizer.planned)
        if model.stop_training:
            break
    return plans
