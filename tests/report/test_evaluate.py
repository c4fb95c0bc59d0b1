"""What the report computes: the Pareto front, predictions, importance and the layer table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import yaml

from cnnsweep.report import evaluate
from cnnsweep.report.collect import CollectedSweep, collect_sweep


def _two_objective_sweep(tmp_path) -> CollectedSweep:
    trials = pd.DataFrame(
        {
            "trial_number": [0, 1, 2, 3],
            "state": ["complete", "complete", "complete", "pruned"],
            "objective": [0.90, 0.80, 0.85, 0.99],
            "params_count": [5000, 1000, 6000, 10],
        }
    )
    return CollectedSweep(
        sweep_dir=tmp_path,
        name="mo",
        trials=trials,
        param_keys=[],
        directions=["maximize", "minimize"],
        objectives=["objective", "params_count"],
    )


def test_the_pareto_front_keeps_the_non_dominated_complete_trials(tmp_path):
    front = evaluate.pareto_front(_two_objective_sweep(tmp_path))
    assert front is not None and front.objectives == ("objective", "params_count")
    assert [front.trial_numbers[i] for i in front.front] == [1, 0]  # trial 2 is dominated by 0


def test_predictions_count_mistakes_and_show_them_first():
    truth = np.array([0, 1, 2, 1, 0])
    predicted = np.array([0, 2, 2, 1, 1])
    predictions = evaluate.Predictions(1, ("a", "b", "c"), np.zeros((5, 2, 2, 1)), truth, predicted)
    assert predictions.accuracy == 0.6
    assert predictions.confusion().tolist() == [[1, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert predictions.examples(4) == [1, 4, 0, 2]


def test_importance_needs_three_complete_trials_of_a_varied_parameter(handmade_sweep):
    sweep = collect_sweep(handmade_sweep)
    importance = evaluate.param_importance(sweep)
    assert importance is not None and set(importance.values) <= set(sweep.param_keys)
    assert abs(sum(importance.values.values()) - 1.0) < 1e-6
    assert importance.method == "PED-ANOVA"  # what Optuna 5 computes by default, named as such


def test_the_layer_table_comes_from_the_best_trials_config(handmade_sweep):
    table = evaluate.layer_table(collect_sweep(handmade_sweep))
    assert table is not None and "block1_conv1" in table


def test_a_config_saved_before_model_residual_existed_still_has_its_layer_table(handmade_sweep):
    sweep = collect_sweep(handmade_sweep)
    saved = handmade_sweep / str(int(sweep.best()["trial_number"])) / ".hydra" / "config.yaml"
    config = yaml.safe_load(saved.read_text())
    del config["model"]["residual"]
    saved.write_text(yaml.safe_dump(config))
    table = evaluate.layer_table(collect_sweep(handmade_sweep))
    assert table is not None and "block1_conv1" in table and "Add" not in table
