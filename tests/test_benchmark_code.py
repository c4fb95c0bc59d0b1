"""The benchmarks measure what they say: the train-longer side's schedule follows its plan,
benchmark 2 compares runs of the same round, benchmark 5's sides share one list of
configurations, and benchmark 1's KerasTuner side scores the test split as the others do."""

import math

import keras
import numpy as np
import pytest

from benchmarks import peers
from benchmarks.measure.scaling import baselines_override, configurations
from benchmarks.report import _verdict


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


def test_benchmark_2_is_the_median_of_each_rounds_ratio_not_a_ratio_of_medians():
    result = {"plain_runs": [1391, 1400, 1574], "cnnsweep_runs": [1361, 1360, 1466], "recipe": "r"}
    verdict = _verdict("throughput", result)
    # The ratio of the medians would be 1361 / 1400 = 0.972; the rounds' ratios are these.
    assert verdict.startswith("met: 0.971x") and "(0.978, 0.971, 0.931)" in verdict
    assert _verdict("throughput", result | {"round_ratios": [0.96, 0.95, 0.99]}).startswith("NOT met: 0.960x")


def test_benchmark_5_gives_both_sides_every_configuration_in_one_seeded_order():
    configs = configurations()
    assert len(configs) == 4 * 3 * 2 * 2 * 4 == len({tuple(c.items()) for c in configs})
    assert configs == configurations() and configs != configurations(seed=1)
    override = baselines_override(configs[:2])
    first = ",".join(f"{key}:{value}" for key, value in configs[0].items())
    assert override.startswith(f"hydra.sweeper.baselines=[{{{first}}},{{")


def test_benchmark_1s_kerastuner_side_scores_every_trial_on_the_test_split(tmp_path):
    from benchmarks import keras_tuner_loop

    given = [
        {
            "model.filters": 16,
            "model.kernel_size": 3,
            "model.strides": 2,
            "model.padding": "same",
            "trainer.batch_size": 128,
        },
        {
            "model.filters": 16,
            "model.kernel_size": 2,
            "model.strides": 2,
            "model.padding": "valid",
            "trainer.batch_size": 128,
        },
    ]
    result = keras_tuner_loop.run(given, "digits", 1, str(tmp_path))
    assert result["trials"] == 2 and result["tested_trials"] == 2


def test_benchmark_4_keeps_what_each_rounds_sweep_did_and_reports_it_for_pooled_rounds():
    from benchmarks.measure.quality import PROTOCOLS, quality_run
    from benchmarks.report import _quality_rounds

    # What the sweep did, as the round keeps it: exactly these facts of the result.
    facts = {
        "trials": 7,
        "complete": 3,
        "best_trial": 0,
        "refit_epochs": 21,
        "best_test_acc": 0.925,
        "refit_test_acc": 0.93,
        "ensemble_test_acc": 0.94,
        "ensemble_members": ["refit-0", "trial 0", "trial 3"],
    }
    result = {
        "protocol": {"cnnsweep": PROTOCOLS["cnnsweep"]},
        "machine": {"date": "2026-12-06T07:00", "processor": "cpu", "commit": "abc"},
        "minutes": 20.0,
        "n_jobs": 2,
        "answer": "refit",
        "answer_test_acc": 0.93,
        "wall_s": 1150.0,
        "peers": {},
        **facts,
    }
    run = quality_run(result)
    assert run["cnnsweep"] == facts
    older = quality_run(result | {"protocol": {"cnnsweep": 1}, "refit_epochs": 5})
    text = "\n".join(_quality_rounds([older, run]))
    assert (
        "2026-12-06T07:00: 2 workers, 7 trials (3 complete), best trial 0, a refit of 21 epochs "
        "(best trial alone 0.925, refit alone 0.93, ensemble 0.94); the ensemble averaged refit-0, "
        "trial 0, trial 3"
    ) in text
    assert "a refit of 5 epochs" not in text  # a round of another protocol is not described as this one's
    assert "(listed, not pooled): 2026-12-06T07:00: cnnsweep 0.93 (protocol 1)." in text
    # Every round that averaged an ensemble, of any protocol, is set against its own refit.
    assert (
        "The ensemble against the refit it averages, in the same round: 2026-12-06T07:00 (protocol 1): "
        "ensemble 0.94 against the refit alone 0.93 (refit-0, trial 0, trial 3); 2026-12-06T07:00 "
        f"(protocol {PROTOCOLS['cnnsweep']}): ensemble 0.94 against the refit alone 0.93 (refit-0, trial 0, "
        "trial 3); mean +1.00 points over 2 rounds."
    ) in text
    without = quality_run(result | {"ensemble_test_acc": None, "ensemble_members": None})
    assert "The ensemble against" not in "\n".join(_quality_rounds([without]))


def test_benchmark_4_keeps_what_each_peer_did_and_reports_it_for_pooled_rounds():
    from benchmarks.measure.quality import PROTOCOLS, quality_run
    from benchmarks.report import _quality_rounds

    peers = {
        "optuna_cnnsweep_recipe": {
            "best_test_acc": 0.93,
            "wall_s": 1160.0,
            "trials": 3,
            "complete": 2,
            "pruned": 1,
        },
        "train_longer": {"best_test_acc": 0.934, "wall_s": 1170.0, "trials": 1, "epochs_trained": 27},
    }
    result = {
        "side": None,
        "protocol": {name: PROTOCOLS[name] for name in peers},
        "machine": {"date": "2026-12-07T11:00", "processor": "cpu", "commit": "abc"},
        "minutes": 20.0,
        "answer": None,
        "peers": peers,
    }
    run = quality_run(result)
    assert run["peer_facts"] == {
        "optuna_cnnsweep_recipe": {"trials": 3, "complete": 2, "pruned": 1},
        "train_longer": {"trials": 1, "epochs_trained": 27},
    }
    # In a round where one peer ran an older protocol, only the other's facts are described.
    mixed = quality_run(
        result
        | {
            "protocol": {"optuna_cnnsweep_recipe": 1, "train_longer": PROTOCOLS["train_longer"]},
            "machine": result["machine"] | {"date": "2026-12-01T09:00"},
        }
    )
    text = "\n".join(_quality_rounds([mixed, run]))
    assert (
        "What each peer did in each round: 2026-12-01T09:00: the default model trained for the whole "
        "time box 27 epochs; 2026-12-07T11:00: Optuna TPE + successive halving, cnnsweep's recipe "
        "3 trials (2 complete, 1 pruned); 2026-12-07T11:00: the default model trained for the whole "
        "time box 27 epochs."
    ) in text


def test_benchmark_4s_one_worker_rounds_are_a_side_of_their_own_never_a_peer_to_lead():
    from benchmarks.measure.quality import PROTOCOLS, quality_run, sweep_side
    from benchmarks.report import _quality_verdict

    assert sweep_side(2) == "cnnsweep" and sweep_side(1) == "cnnsweep_n_jobs_1"
    with pytest.raises(ValueError, match="not 3"):
        sweep_side(3)
    machine = {"date": "d", "processor": "cpu", "commit": "c", "cpu_cores": 2}

    def round_(n_jobs, acc, peer_acc):
        side = sweep_side(n_jobs)
        result = {
            "side": side,
            "protocol": {side: PROTOCOLS[side]} | {peer: PROTOCOLS[peer] for peer in peers},
            "machine": machine,
            "minutes": 20.0,
            "n_jobs": n_jobs,
            "answer": "refit",
            "answer_test_acc": acc,
            "wall_s": 1100.0,
            **{"trials": 5, "complete": 2, "best_trial": 0, "refit_epochs": 20},
            "peers": {peer: {"best_test_acc": peer_acc, "wall_s": 1150.0} for peer in peers},
        }
        return quality_run(result)

    peers = ("train_longer", "optuna_cnnsweep_recipe", "keras_tuner_cnnsweep_recipe")

    runs = [round_(2, 0.95, 0.92), round_(2, 0.951, 0.921), round_(2, 0.952, 0.919), round_(1, 0.96, 0.92)]
    assert runs[-1]["test_acc"] == {"cnnsweep_n_jobs_1": 0.96} | dict.fromkeys(peers, 0.92)
    verdict = _quality_verdict({"protocol": {}, "minutes": 20.0, "machine": machine}, runs)
    # The one-worker round neither joins cnnsweep's median nor counts as a side cnnsweep must
    # lead (it scored higher, and the lead is still met); it is reported as what 2 workers bought.
    assert "median 0.951 " in verdict and "over every side met" in verdict
    assert "; 2 workers over 1 (median 0.96) -0.90 points (no interval, 3 vs 1 rounds)" in verdict
    assert "overran the time box" not in verdict  # every peer's round ended within it

    runs[0]["wall_s"]["train_longer"] = 1231.0  # one round of the peer ran 31 s past the 20 minutes
    verdict = _quality_verdict({"protocol": {}, "minutes": 20.0, "machine": machine}, runs)
    assert "rounds) (its whole command overran the time box by up to 31 s)" in verdict


def test_benchmark_1_pairs_each_rounds_commands_rather_than_subtracting_medians():
    from benchmarks.measure.overhead import paired_overheads

    sweep, plain = [41.73, 41.28, 41.29], [37.13, 35.05, 38.68]
    # The medians' difference would be 41.29 - 37.13 = 4.16 s, 139 ms a trial: met. The rounds say not.
    rounds = paired_overheads(sweep, plain, 30)
    assert rounds == [153, 208, 87]
    result = {
        "command_overhead_ms_per_trial": 153,
        "command_ratio": 1.12,
        "trial_phase_overhead_ms_per_trial": 91,
        "round_overheads_ms_per_trial": rounds,
    }
    assert _verdict("overhead", result).startswith(
        "NOT met: 153 ms per trial over the plain loop, whole commands (the median of the rounds' "
        "153, 208, 87 ms), 3 round(s) too few for a 90% interval of the median (unsettled)"
    )
    assert paired_overheads([50.0], plain, 30) == [429]  # KerasTuner stopped after one round


def test_benchmark_4s_peers_alone_add_their_rounds_without_a_sweep(tmp_path, monkeypatch):
    """A round of the peers alone (after a peer's protocol changed) runs no sweep, keeps only
    the peers' accuracies and walls, and is pooled with the sweep's rounds for that peer."""
    import json
    import subprocess

    from benchmarks.measure import quality as bench
    from benchmarks.report import _quality_rounds, _quality_verdict

    def no_sweep(*args, **kwargs):
        raise AssertionError("a round of the peers alone started the sweep")

    ran = []

    def peer_command(*args, cwd):
        ran.append(args[1])
        out = json.dumps({"best_test_acc": 0.93, "wall_s": 1190.0})
        return 1195.0, subprocess.CompletedProcess(args, 0, stdout=out + "\n")

    monkeypatch.setattr(bench, "run_sweep", no_sweep)
    monkeypatch.setattr(bench, "run_python", peer_command)
    result = bench.quality(tmp_path, 20.0, 2, peers=("train_longer",), sweep=False)
    assert ran == ["benchmarks.train_longer"]
    assert result["side"] is None and result["lead_points"] == {}
    machine = {"date": "d", "processor": "cpu", "commit": "c", "cpu_cores": 2}
    alone = bench.quality_run(result | {"machine": machine})
    assert alone["test_acc"] == {"train_longer": 0.93} and alone["wall_s"] == {"train_longer": 1195.0}
    assert alone["protocol"] == {"train_longer": bench.PROTOCOLS["train_longer"]} and "cnnsweep" not in alone

    def sweep_round(acc):
        return bench.quality_run(
            {
                "side": "cnnsweep",
                "protocol": {"cnnsweep": bench.PROTOCOLS["cnnsweep"]},
                "machine": machine,
                "minutes": 20.0,
                "n_jobs": 2,
                "answer": "refit",
                "answer_test_acc": acc,
                "wall_s": 1170.0,
                **{"trials": 5, "complete": 2, "best_trial": 0, "refit_epochs": 20},
                "peers": {},
            }
        )

    runs = [sweep_round(0.94), sweep_round(0.941), alone]
    verdict = _quality_verdict({"protocol": {}, "minutes": 20.0, "machine": machine}, runs)
    assert "over the default model trained for the whole time box (median 0.93) +1.05 points" in verdict
    assert "2 vs 1 rounds" in verdict
    table = "\n".join(_quality_rounds(runs))
    assert "| the default model trained for the whole time box | 1 | 0.9300 |" in table


def test_benchmark_4_pools_rounds_only_on_the_machine_of_cnnsweeps_rounds():
    """Twenty minutes on a slower machine are a smaller budget: a peer's round on another
    processor is listed, not pooled, and the lead over every side is not met while a peer
    given cnnsweep's recipe has no round on cnnsweep's machine."""
    from benchmarks.measure.quality import PROTOCOLS, quality_run
    from benchmarks.report import _quality_rounds, _quality_verdict

    def round_(processor, sides):
        return quality_run(
            {
                "side": "cnnsweep" if "cnnsweep" in sides else None,
                "protocol": {side: PROTOCOLS[side] for side in sides},
                "machine": {"date": processor, "processor": processor, "commit": "c", "cpu_cores": 2},
                "minutes": 20.0,
                "n_jobs": 2,
                "answer": "refit",
                "answer_test_acc": sides.get("cnnsweep"),
                "wall_s": 1170.0,
                **{"trials": 5, "complete": 2, "best_trial": 0, "refit_epochs": 20},
                "peers": {
                    side: {"best_test_acc": acc, "wall_s": 1190.0}
                    for side, acc in sides.items()
                    if side != "cnnsweep"
                },
            }
        )

    peers = ("train_longer", "keras_tuner_cnnsweep_recipe")
    runs = [
        round_("fast", {"cnnsweep": 0.95 + i / 1000} | dict.fromkeys(peers, 0.92 - i / 500)) for i in range(3)
    ]
    runs += [round_("slow", {"optuna_cnnsweep_recipe": 0.90 + i / 1000}) for i in range(3)]
    verdict = _quality_verdict({"protocol": {}, "minutes": 20.0, "machine": {"cpu_cores": 2}}, runs)
    assert "2 cores (fast)" in verdict and "over every side NOT met" in verdict
    assert (
        "; over Optuna TPE + successive halving, cnnsweep's recipe: no round of its current protocol "
        f"({PROTOCOLS['optuna_cnnsweep_recipe']}) on fast yet"
    ) in verdict
    text = "\n".join(_quality_rounds(runs))
    assert "Optuna TPE + successive halving, cnnsweep's recipe |" not in text  # not in the pooled table
    optuna = PROTOCOLS["optuna_cnnsweep_recipe"]
    assert (
        f"slow: Optuna TPE + successive halving, cnnsweep's recipe 0.9 (protocol {optuna}, on slow)" in text
    )
    # The same rounds on cnnsweep's machine are pooled, and the lead over every side is met.
    runs[3:] = [round_("fast", {"optuna_cnnsweep_recipe": 0.90 + i / 1000}) for i in range(3)]
    verdict = _quality_verdict({"protocol": {}, "minutes": 20.0, "machine": {"cpu_cores": 2}}, runs)
    assert "over every side met" in verdict and "yet" not in verdict


def test_benchmark_4_refuses_a_round_with_no_side_to_run(capsys):
    from benchmarks.run import main

    with pytest.raises(SystemExit) as refused:
        main(["quality", "--no-sweep", "--no-tuner"])
    assert refused.value.code == 2
    assert "--no-sweep runs the peers alone: name them with --peers" in capsys.readouterr().err


def test_the_train_longer_side_replans_as_its_epochs_slow_and_ends_within_its_time_box():
    """Epochs of 10 s, then 20 s, in a 100 s box with 15 s kept for scoring. A plan fixed after
    the second epoch (6 more at 10 s) would end at 140 s; replanned after every epoch from the
    slower of the median and the last epoch, the run stops at 80 s, with the schedule's length
    following each plan."""
    from benchmarks.train_longer import budget_sizer

    assert peers.SCORING_RESERVE_S == 15.0
    now = [0.0]
    box = peers.TimeBox(100 / 60, started=0.0, clock=lambda: now[0])
    assert box.training_ends == 85.0
    schedule = peers.sized_cosine(keras, 0.01, steps_per_epoch=10, epochs=15)
    sizer = budget_sizer(keras, schedule, 10, box)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.stop_training = False  # as fit sets it
    sizer.set_model(model)
    plans, lengths = [], []
    for epoch, seconds in enumerate([10, 10, 20, 20, 20, 20, 20]):
        sizer.on_epoch_begin(epoch)
        now[0] += seconds
        sizer.on_epoch_end(epoch)
        plans.append(sizer.planned)
        lengths.append(float(schedule.total_steps.numpy()))
        if sizer.model.stop_training:
            break
    # after epoch 1: 75 s left / 10 s = 7 more; 2: 65 / 10 = 6; 3: 45 / 20 (the last) = 2;
    # 4: 25 / 20 = 1; 5: 5 / 20 = 0, so it stops there, at 80 s of the 100.
    assert plans == [8, 8, 5, 5, 5]
    assert lengths == [80.0, 80.0, 50.0, 50.0, 50.0]
    assert now[0] + peers.SCORING_RESERVE_S <= box.ends


def _fit_on_a_fake_clock(callback, now: list[float], epochs: list[float]) -> int:
    """Drives ``callback`` through a fit whose epochs take ``epochs`` seconds on the clock
    ``now``; returns how many epochs ran before it stopped the fit."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.stop_training = False
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, seconds in enumerate(epochs):
        callback.on_epoch_begin(epoch)
        now[0] += seconds
        callback.on_epoch_end(epoch)
        if model.stop_training:
            return epoch + 1
    return len(epochs)


def test_a_searching_peer_ends_its_trials_and_its_search_within_the_time_box():
    """A 100 s box (85 s of training, 15 s kept for scoring), as the Optuna and KerasTuner
    peers keep it: a trial ends at the epoch after which the next (budgeted at the fit's
    longest) would end past 85 s, and no trial starts whose first epoch (the median of the
    first epochs so far) would not fit. A tuner's deep copy of the callback still counts its
    first epoch in the box."""
    import copy

    now = [10.0]  # the process started 10 s before the peer reads the clock
    box = peers.TimeBox(100 / 60, started=0.0, clock=lambda: now[0])
    assert (box.ends, box.training_ends) == (100.0, 85.0)
    assert box.room_for_a_trial()  # no trial yet: the first one always starts
    # Trial 1: a 20 s first epoch (compilation), then 10 s ones; at 60 s the next (20 s) still
    # fits, at 80 s it would end at 100 > 85, so the fit ends after its fifth epoch.
    assert _fit_on_a_fake_clock(box.callback(keras), now, [20, 10, 10, 10, 20, 10, 10]) == 5
    assert now[0] == 80.0 and box.first_epochs == [20]
    assert not box.room_for_a_trial()  # 80 + a 20 s first epoch > 85
    now[0] = 40.0
    assert box.room_for_a_trial()
    copied = copy.deepcopy(box.callback(keras))
    assert _fit_on_a_fake_clock(copied, now, [30, 5, 5]) == 1  # 70 + 30 > 85: one epoch only
    assert box.first_epochs == [20, 30]
    now[0] = 60.0
    assert box.room_for_a_trial()  # 60 + the median first epoch (25) = 85: it still fits
    now[0] = 61.0
    assert not box.room_for_a_trial()


def test_a_searching_peer_cuts_an_epoch_that_would_end_past_its_time_box():
    """A trial started with room for the median first epoch whose own first epoch runs longer
    (a larger model) stops at the batch after which the next batch and a validation pass (the
    longest the box has measured) would end past training's end, so the cut epoch's validation
    still ends within it; the cut epoch is not counted as a first epoch."""
    now = [0.0]
    box = peers.TimeBox(100 / 60, started=0.0, clock=lambda: now[0])
    callback = box.callback(keras)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.stop_training = False
    callback.set_model(model)
    callback.on_test_begin()  # an earlier fit's validation pass: 15 s
    now[0] += 15
    callback.on_test_end()
    assert box.longest_validation == 15.0
    now[0] = 0.0
    callback.on_train_begin()
    callback.on_epoch_begin(0)
    for batch in range(10):  # 10 s a batch; after the 7th (70 s), 70 + 10 + 15 > 85
        now[0] += 10
        callback.on_train_batch_end(batch)
        if model.stop_training:
            break
    assert (batch, now[0]) == (6, 70.0)
    callback.on_epoch_end(0)
    assert box.first_epochs == []


def test_a_searching_peers_time_box_measures_the_validation_keras_runs_in_a_fit():
    """Keras runs a fit's validation pass through the callbacks' test hooks: the box learns
    its length from a real fit."""
    box = peers.TimeBox(60)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    x, y = np.zeros((32, 4), "float32"), keras.utils.to_categorical(np.arange(32) % 2, 2)
    model.fit(
        x, y, validation_data=(x, y), epochs=2, batch_size=8, callbacks=[box.callback(keras)], verbose=0
    )
    assert box.longest_validation > 0.0 and len(box.first_epochs) == 1


def test_benchmark_9_keeps_each_machines_run_beside_the_others(tmp_path, monkeypatch):
    """A run of benchmark 9 on another machine adds to the runs recorded (the first run,
    recorded before runs were kept, among them): each keeps the baseline it is compared with."""
    import json

    from benchmarks import run
    from benchmarks.measure.levers import recorded_lever_runs

    def lever_run(processor: str, base: float, flip: float) -> dict:
        levers = {
            "baseline": {"test_acc": [base, base], "mean_test_acc": base, "gain_points": 0.0},
            "flip_test": {"mean_test_acc": flip, "gain_points": round(100 * (flip - base), 2)},
        }
        return {"seeds": 2, "levers": levers, "machine": {"date": "d", "processor": processor}}

    xeon = lever_run("Xeon", 0.9254, 0.9281)
    (tmp_path / "results.json").write_text(json.dumps({"levers": xeon}))
    assert recorded_lever_runs(tmp_path) == [xeon]
    epyc = lever_run("EPYC", 0.9201, 0.9199)
    monkeypatch.setattr(
        run, "levers", lambda *args, **kwargs: {k: v for k, v in epyc.items() if k != "machine"}
    )
    monkeypatch.setattr(run, "machine", lambda: epyc["machine"])
    assert run.main(["levers", "--levers", "flip_test", "--results", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "results.json").read_text())
    assert [r["machine"]["processor"] for r in data["lever_runs"]] == ["Xeon", "EPYC"]
    assert data["levers"]["machine"]["processor"] == "EPYC"
    page = (tmp_path / "RESULTS.md").read_text()
    assert "- d, Xeon: measured over 2 seed(s): baseline 0.9254" in page and "flip_test +0.27 points" in page
    assert "- d, EPYC: measured over 2 seed(s): baseline 0.9201" in page and "flip_test -0.02 points" in page


def test_benchmark_9_shows_each_seeds_gain_and_time_beside_the_mean():
    """A mean over two seeds hides whether the lever gained on both: the verdict pairs each
    seed's run with the baseline's run of the same seed."""
    from benchmarks.report import _verdict

    record = {
        "seeds": 2,
        "levers": {
            "baseline": {"test_acc": [0.9286, 0.9275], "mean_test_acc": 0.9281, "command_s": [300.0, 200.0]},
            "residual": {
                "test_acc": [0.9332, 0.9262],
                "mean_test_acc": 0.9297,
                "gain_points": 0.16,
                "command_s": [330.0, 100.0],
            },
        },
    }
    verdict = _verdict("levers", record)
    expected = "(0.9297; per seed +0.46, -0.13 points, command time 1.10x, 0.50x the baseline's)"
    assert f"residual +0.16 points {expected}" in verdict
