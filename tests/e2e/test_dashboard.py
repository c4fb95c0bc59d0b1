"""A sweep as optuna-dashboard shows it, read through the dashboard's own HTTP API: every
trial in its state, objectives only where there is one (no made-up value for an
infeasible trial)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import requires, run_cli, sweep_args

DASHBOARD = shutil.which("optuna-dashboard") or str(Path(sys.executable).parent / "optuna-dashboard")

TRIALS = {  # searched values -> how the trial ends
    "{model:{kernel_size:2},trainer:{learning_rate:0.003}}": "complete",
    "{model:{kernel_size:9},trainer:{learning_rate:0.003}}": "infeasible",  # 9x9 on 8x8 images
    "{model:{kernel_size:2},trainer:{learning_rate:1000000000000.0}}": "failed",  # NaN loss
    "{model:{kernel_size:3},trainer:{learning_rate:0.00001}}": "pruned",  # learns nothing
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, timeout: float = 60) -> dict:
    until = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.load(response)
        except OSError:
            if time.monotonic() > until:
                raise
            time.sleep(0.3)


@pytest.mark.slow
@requires(Path(DASHBOARD).exists(), "pip install optuna-dashboard")
def test_optuna_dashboard_shows_each_state_and_no_made_up_objective(tmp_path):
    sweep_dir = tmp_path / "sweep"
    proc = run_cli(
        *sweep_args(
            sweep_dir,
            "model=seed",
            "model.padding=valid",
            "trainer.epochs=3",
            "model.kernel_size=choice(2,3,9)",
            "trainer.learning_rate=choice(0.003,0.00001,1e12)",
            "hydra/sweeper/pruner=median",
            "hydra.sweeper.pruner.n_startup_trials=1",
            "hydra.sweeper.pruner.n_warmup_steps=0",
            f"hydra.sweeper.n_trials={len(TRIALS)}",
            "hydra.sweeper.max_failure_rate=1",
            "hydra.sweeper.study_name=dash",
            "hydra.sweeper.baselines=[" + ",".join(TRIALS) + "]",
        ),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    port = _free_port()
    server = subprocess.Popen(
        [DASHBOARD, f"sqlite:///{sweep_dir / 'optuna.db'}", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        (summary,) = _get(f"http://127.0.0.1:{port}/api/studies")["study_summaries"]
        assert summary["study_name"] == "dash"
        study = _get(f"http://127.0.0.1:{port}/api/studies/{summary['study_id']}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    shown = {t["number"]: t for t in study["trials"]}
    assert sorted(shown) == list(range(len(TRIALS)))
    metrics = {n: json.loads((sweep_dir / str(n) / "metrics.json").read_text()) for n in shown}
    expected_state = {"complete": "Complete", "pruned": "Pruned", "failed": "Fail", "infeasible": "Pruned"}
    for number, ending in enumerate(TRIALS.values()):
        trial = shown[number]
        assert metrics[number]["status"] == ending
        assert trial["state"] == expected_state[ending], (number, ending, trial["state"])
        if ending == "complete":
            assert trial["values"] == pytest.approx([metrics[number]["objective"]])
        elif ending == "pruned":  # Optuna shows a pruned trial's last reported value, a real one
            assert trial["values"] == pytest.approx([trial["intermediate_values"][-1]["value"]])
        else:  # failed and infeasible trials have no objective: none is shown
            assert trial.get("values") is None, trial
        if ending == "infeasible":  # it never trained: nothing reported either
            assert not trial["intermediate_values"], trial
    assert [t["number"] for t in study["best_trials"]] == [
        max(
            (n for n, e in enumerate(TRIALS.values()) if e == "complete"),
            key=lambda n: metrics[n]["objective"],
        )
    ]
