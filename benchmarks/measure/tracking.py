"""Benchmark 10: what tracking=mlflow costs a deep_cnn trial."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.measure.common import open_study, run_sweep

TRACKING_SWEEP = (
    "+sweep=deep_cnn",
    "dataset=fashion_mnist",
    "dataset.train_limit=6000",
    "dataset.test_limit=2000",
    "trainer.epochs=3",
    "hydra.sweeper.sampler.seed=0",
)


def tracking(workdir: Path, n_trials: int, rounds: int, *extra: str) -> dict:
    """What ``tracking=mlflow`` costs a trial: the same seeded deep_cnn sweep with and without it,
    whole commands taking turns, the tracked one sending to an ``mlflow server`` on this machine
    (so the server's own work counts against the sweep too)."""
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("mlflow")),
            "server",
            "--backend-store-uri",
            f"sqlite:///{workdir / 'mlflow.db'}",
            "--artifacts-destination",
            str(workdir / "mlflow-artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        for _ in range(360):
            try:
                if urllib.request.urlopen(f"{url}/health", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.5)
        sides: dict[str, list[float]] = {"plain": [], "tracked": []}
        trials: dict[str, list[int]] = {"plain": [], "tracked": []}
        own_s: list[float] = []  # each untracked trial's own time, start to end in the study
        for round_ in range(rounds):
            for side in ("plain", "tracked"):
                overrides = [*TRACKING_SWEEP, f"hydra.sweeper.n_trials={n_trials}", *extra]
                if side == "tracked":
                    overrides += [
                        "tracking=mlflow",
                        f"tracking.uri={url}",
                        f"tracking.experiment=bench{round_}",
                    ]
                wall, sweep_dir = run_sweep(workdir, f"tracking-{side}-{round_}", *overrides)
                sides[side].append(round(wall, 1))
                finished = [t for t in open_study(sweep_dir).trials if t.state.is_finished()]
                trials[side].append(len(finished))
                if side == "plain":
                    own_s += [(t.datetime_complete - t.datetime_start).total_seconds() for t in finished]
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and its web workers
        server.wait()
    plain, tracked = statistics.median(sides["plain"]), statistics.median(sides["tracked"])
    trial_s = statistics.fmean(own_s)  # a trial's own time: the share is of what a trial costs
    cost_ms = 1000 * (tracked - plain) / n_trials
    return {
        "n_trials": n_trials,
        "rounds": rounds,
        "plain_command_s": sides["plain"],
        "tracked_command_s": sides["tracked"],
        "finished_trials": trials,
        "trial_own_s": round(trial_s, 2),
        "command_s_per_trial": round(plain / n_trials, 2),
        "tracking_ms_per_trial": round(cost_ms),
        "tracking_share_pct": round(100 * cost_ms / 1000 / trial_s, 2),
    }
