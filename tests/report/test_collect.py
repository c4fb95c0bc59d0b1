"""Collecting sweep dirs into plain records."""

from __future__ import annotations

from cnnsweep.report.collect import collect_sweep


def test_collect_reads_every_state_and_skips_broken_files(handmade_sweep):
    sweep = collect_sweep(handmade_sweep)
    states = sweep.trials.set_index("trial_number")["state"].to_dict()
    assert states == {
        0: "complete",
        1: "complete",
        2: "pruned",
        3: "failed",
        4: "infeasible",
        5: "failed",
        6: "complete",
        7: "failed",
    }
    assert sweep.param_keys == ["model.filters", "model.name", "trainer.seed"]
    assert int(sweep.best()["trial_number"]) == 1
    assert any("6/history.csv" in p for p in sweep.problems)
    assert any("7/metrics.json" in p for p in sweep.problems)
    assert 6 not in sweep.histories and 1 in sweep.histories
