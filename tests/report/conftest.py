"""A hand-made sweep dir for the report tests: every state, broken files, hostile text."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

HOSTILE = "<script>alert('x')</script>"
REPO = Path(__file__).resolve().parents[2]


def _trial(
    sweep: Path,
    number: int,
    status: str | None,
    filters: int,
    objective=None,
    epochs: int = 3,
    error: str | None = None,
    history: bool = True,
) -> Path:
    trial_dir = sweep / str(number)
    (trial_dir / ".hydra").mkdir(parents=True)
    config = {
        "dataset": {"name": "digits", "path": None, "train_limit": None, "test_limit": None},
        "model": yaml.safe_load(Path("conf/model/seed.yaml").read_text()) | {"filters": filters},
        "trainer": {"epochs": 5},
    }
    (trial_dir / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    (trial_dir / ".hydra" / "overrides.yaml").write_text(
        yaml.safe_dump([f"model.filters={filters}", "dataset=digits", f"trainer.seed={number}"])
    )
    if status is None:
        return trial_dir  # still running: nothing written yet
    metrics = {
        "status": status,
        "objective": objective,
        "objective_name": "val_acc",
        "best_epoch": epochs if objective else None,
        "epochs_run": epochs if history else 0,
        "val_acc": objective,
        "val_loss": 0.5,
        "test_acc": objective and objective - 0.01,
        "test_loss": 0.6,
        "params_count": 1000 * filters,
        "train_seconds": 2.5,
        "images_per_second": 500.0,
        "trial_number": number,
    }
    if error:
        metrics["error"] = error
    (trial_dir / "metrics.json").write_text(json.dumps(metrics))
    if history:
        rows = [
            {
                "epoch": e,
                "loss": 1 / e,
                "acc": 0.5 + e / 20,
                "val_loss": 1.1 / e,
                "val_acc": (objective or 0.3) - (epochs - e) * 0.02,
            }
            for e in range(1, epochs + 1)
        ]
        pd.DataFrame(rows).to_csv(trial_dir / "history.csv", index=False)
    return trial_dir


def cut_by_the_budget(sweep_dir: Path, *numbers: int) -> None:
    """Mark these trials of a hand-made sweep as stopped by the sweep's time budget."""
    for number in numbers:
        path = sweep_dir / str(number) / "metrics.json"
        path.write_text(json.dumps(json.loads(path.read_text()) | {"stopped_by": "deadline"}))


@pytest.fixture
def handmade_sweep(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "optimization_results.yaml").write_text(
        yaml.safe_dump({"name": f"study {HOSTILE}", "directions": ["maximize"], "objectives": ["objective"]})
    )
    hostile_config = _trial(sweep, 0, "complete", 8, 0.81)
    overrides = hostile_config / ".hydra" / "overrides.yaml"  # a config value shown as a column
    overrides.write_text(yaml.safe_dump([*yaml.safe_load(overrides.read_text()), f"model.name={HOSTILE}"]))
    _trial(sweep, 1, "complete", 16, 0.93, epochs=5)
    _trial(sweep, 2, "pruned", 4, 0.40, epochs=2, error="pruned after epoch 2")
    _trial(sweep, 3, "failed", 32, None, epochs=1, error=f"loss became NaN {HOSTILE}")
    _trial(sweep, 4, "infeasible", 64, None, error="model.kernel_size=9 does not fit", history=False)
    _trial(sweep, 5, None, 8)  # running
    broken = _trial(sweep, 6, "complete", 16, 0.85)
    (broken / "history.csv").write_text('epoch,loss\n1,0.5,extra,"unterminated\n')
    corrupt = _trial(sweep, 7, "complete", 8, 0.7)
    (corrupt / "metrics.json").write_text("{not json")
    return sweep
