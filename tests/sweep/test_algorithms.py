"""The sweep's pruner: successive halving with a last rung."""

from __future__ import annotations

import optuna


def test_successive_halving_stops_pruning_after_its_last_rung():
    from cnnsweep.sweep.study.algorithms import SuccessiveHalving

    def prunes_at(last_rung):
        study = optuna.create_study(
            direction="maximize",
            pruner=SuccessiveHalving(min_resource=1, reduction_factor=3, last_rung=last_rung),
        )
        for _ in range(6):  # strong trials that set the bar at every rung
            trial = study.ask()
            for step in range(1, 10):
                trial.report(1.0, step)
                assert not trial.should_prune()
            study.tell(trial, 1.0)
        weak = study.ask()
        for step in range(1, 10):
            weak.report(1.0 if step < 3 else 0.0, step)  # as good as any until step 2, then worst
            if weak.should_prune():
                return step
        return None

    assert prunes_at(None) == 3  # the rung at step 3 drops it
    assert prunes_at(2) is None  # no rung after step 2: it trains to the end
