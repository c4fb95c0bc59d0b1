"""The training recipe: each schedule gives the stated learning rates, each optimizer is built."""

from __future__ import annotations

import pytest

from tests.helpers import compose_config

STEPS = 10  # steps per epoch


def _trainer(**values):
    trainer = compose_config("trainer.epochs=5", "trainer.learning_rate=0.01")["trainer"]
    return {**trainer, **values}


def test_the_seed_trainer_keeps_the_lessons_recipe():
    from cnnsweep import recipe

    trainer = compose_config("trainer=seed")["trainer"]
    optimizer = recipe.optimizer(trainer, STEPS)
    assert type(optimizer).__name__ == "Adam" and float(optimizer.learning_rate) == pytest.approx(0.001)
    assert recipe.loss(trainer).get_config()["label_smoothing"] == 0.0
    assert recipe.learning_rate_at(trainer, STEPS, 0) == recipe.learning_rate_at(trainer, STEPS, 99)


def test_cosine_warms_up_linearly_then_decays_to_zero():
    from cnnsweep.recipe import learning_rate_at

    trainer = _trainer(lr_schedule="cosine", warmup_epochs=1.0)
    assert learning_rate_at(trainer, STEPS, 0) == pytest.approx(0.0)
    assert learning_rate_at(trainer, STEPS, 5) == pytest.approx(0.005)
    assert learning_rate_at(trainer, STEPS, 10) == pytest.approx(0.01)
    assert learning_rate_at(trainer, STEPS, 30) == pytest.approx(0.005, rel=1e-3)  # half-way down
    assert learning_rate_at(trainer, STEPS, 50) == pytest.approx(0.0, abs=1e-7)


def test_a_warm_up_longer_than_the_run_takes_half_of_it():
    from cnnsweep.recipe import learning_rate_at

    trainer = _trainer(epochs=1, lr_schedule="cosine", warmup_epochs=3.0)
    rates = [learning_rate_at(trainer, STEPS, step) for step in range(STEPS + 1)]
    assert rates.index(max(rates)) == 5 and rates[5] == pytest.approx(0.01)


def test_one_cycle_rises_for_thirty_percent_then_falls():
    from cnnsweep.recipe import learning_rate_at

    trainer = _trainer(lr_schedule="one_cycle")
    assert learning_rate_at(trainer, STEPS, 0) == pytest.approx(0.01 / 25)
    assert learning_rate_at(trainer, STEPS, 15) == pytest.approx(0.01)
    rates = [learning_rate_at(trainer, STEPS, step) for step in range(0, 51, 5)]
    assert rates.index(max(rates)) == 3  # step 15 of 50
    assert rates[-1] == pytest.approx(0.01 / 1e4, rel=1e-3)


@pytest.mark.parametrize(("name", "kind"), [("adam", "Adam"), ("adamw", "AdamW"), ("sgd", "SGD")])
def test_each_optimizer_with_weight_decay(name, kind):
    from cnnsweep import recipe

    optimizer = recipe.optimizer(_trainer(optimizer=name, weight_decay=1e-4, momentum=0.8), STEPS)
    assert type(optimizer).__name__ == kind and optimizer.weight_decay == pytest.approx(1e-4)
    if name == "sgd":
        assert optimizer.momentum == pytest.approx(0.8)


def test_label_smoothing_reaches_the_loss():
    from cnnsweep import recipe

    assert recipe.loss(_trainer(label_smoothing=0.1)).get_config()["label_smoothing"] == pytest.approx(0.1)


def test_a_model_trained_with_one_cycle_saves_and_loads(tiny_config, tmp_path):
    from cnnsweep.backend import import_keras
    from cnnsweep.training import train

    tiny_config["trainer"].update(
        optimizer="adamw", lr_schedule="one_cycle", weight_decay=1e-4, label_smoothing=0.1
    )
    result = train(tiny_config, tmp_path)
    assert result.status == "complete"
    model = import_keras().models.load_model(tmp_path / "model.keras", safe_mode=True)
    assert type(model.optimizer).__name__ == "AdamW"


def test_the_warm_up_counts_the_runs_own_epochs_short_subset_epochs_too():
    from cnnsweep.recipe import learning_rate_at, warmup_steps

    trainer = _trainer(lr_schedule="cosine", warmup_epochs=1.0)
    subset_run = [2, 4, STEPS, STEPS, STEPS]  # a sweep's fidelity: two short epochs first
    assert warmup_steps(trainer, subset_run) == 2
    assert learning_rate_at(trainer, STEPS, 1, subset_run) == pytest.approx(0.005)
    assert learning_rate_at(trainer, STEPS, 2, subset_run) == pytest.approx(0.01)  # the peak, judged after
    assert warmup_steps(_trainer(warmup_epochs=1.5), subset_run) == 4  # 2 + half of 4
    assert warmup_steps(_trainer(warmup_epochs=1.0), [STEPS] * 5) == STEPS  # full epochs: as before


def test_adamw_on_a_schedule_decays_at_one_rate_per_step_and_trains_as_keras_own():
    """cnnsweep's AdamW (the schedule evaluated once per step for the weight decay) trains to
    the same weights as Keras's own, and saves as Keras's own AdamW."""
    import numpy as np

    from cnnsweep import recipe

    keras = recipe.keras
    trainer = _trainer(optimizer="adamw", weight_decay=0.05, lr_schedule="cosine", warmup_epochs=1.0)
    ours = recipe.optimizer(trainer, STEPS)
    assert "_apply_weight_decay" in vars(ours)  # the private names it needs are still Keras's
    assert type(ours) is keras.optimizers.AdamW
    rng = np.random.default_rng(0)
    x, y = rng.random((80, 4)).astype("float32"), np.eye(3, dtype="float32")[rng.integers(0, 3, 80)]

    def trained(optimizer):
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((4,)),
                keras.layers.Dense(8, activation="relu"),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
        model.compile(optimizer=optimizer, loss="categorical_crossentropy")
        model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
        return [np.asarray(w) for w in model.get_weights()]

    keras_own = keras.optimizers.AdamW(learning_rate=recipe.learning_rate(trainer, STEPS), weight_decay=0.05)
    for mine, theirs in zip(trained(ours), trained(keras_own), strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)
    plain = recipe.optimizer(_trainer(optimizer="adamw", weight_decay=0.05, lr_schedule="constant"), STEPS)
    assert "_apply_weight_decay" not in vars(plain)  # a constant rate is computed once anyway
