"""trials.csv and optimization_results.yaml, written from the study alone."""

from __future__ import annotations

import optuna
import pandas as pd
import yaml

from cnnsweep.sweep.study import lifecycle as studies
from cnnsweep.sweep.study import records


def test_trials_csv_has_a_row_per_trial_with_its_state_params_and_metrics(tmp_path):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    space = {"model.filters": optuna.distributions.CategoricalDistribution([8, 16])}
    outcomes = [
        {"status": "complete", "objective": 0.8, "test_acc": 0.79, "epochs_run": 3},
        {"status": "pruned", "objective": 0.4, "epochs_run": 1},
        {"status": "infeasible", "error": "does not fit"},
    ]
    for metrics in outcomes:
        studies.tell(study, study.ask(space), metrics, ("objective",), constrained=True)
    study.ask(space)  # still running
    records.write_trials_csv(tmp_path, study, ["model.filters"])
    table = pd.read_csv(tmp_path / records.TRIALS_FILE)
    assert table["state"].tolist() == ["complete", "pruned", "infeasible", "running"]
    assert list(table.columns[:3]) == ["trial_number", "state", "model.filters"]
    assert table.loc[0, "test_acc"] == 0.79 and table.loc[2, "error"] == "does not fit"

    records.write_optimization_results(tmp_path, study, ["objective"], "sqlite:///x", 10)
    results = yaml.safe_load((tmp_path / records.RESULTS_FILE).read_text())
    assert results["best_trial"] == 0 and results["best_value"] == 0.8 and results["best_test_acc"] == 0.79
    assert results["trials"] == {"complete": 1, "pruned": 1, "infeasible": 1, "running": 1}
    assert results["n_trials"] == 10


def test_integers_stay_integers_when_a_row_has_no_value(tmp_path):
    study = optuna.create_study(direction="maximize")
    space = {
        "model.filters": optuna.distributions.CategoricalDistribution([32, 64]),
        "trainer.batch_size": optuna.distributions.IntDistribution(16, 128),
    }
    studies.tell(
        study,
        study.ask(space),
        {"status": "complete", "objective": 0.8, "epochs_run": 3, "best_epoch": 2},
        ("objective",),
        constrained=False,
    )
    study.ask()  # a trial without parameters (as a failed resume leaves one)
    records.write_trials_csv(tmp_path, study, list(space))
    lines = (tmp_path / records.TRIALS_FILE).read_text().splitlines()
    header, first = lines[0].split(","), lines[1].split(",")
    row = dict(zip(header, first, strict=True))
    assert row["model.filters"] in ("32", "64") and "." not in row["trainer.batch_size"]
    assert row["epochs_run"] == "3" and row["best_epoch"] == "2"
    assert lines[2].split(",")[header.index("model.filters")] == ""  # empty, not NaN
