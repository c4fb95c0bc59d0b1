"""tracking=mlflow, warm starts and patience in real sweeps on digits, against a real
``mlflow server`` (SQLite backend, a local artifacts folder), read back through MlflowClient."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.helpers import REPO, cli_env, load_study, requires, run_cli, sweep_args

pytest.importorskip("mlflow")
from mlflow import MlflowClient  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SEED = ["+sweep=seed_cnn", "trainer.epochs=2", "hydra.sweeper.sampler.seed=3"]


class MlflowServer:
    """``mlflow server`` on a free port of 127.0.0.1, its store under ``root``; restartable."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> MlflowServer:
        mlflow = Path(sys.executable).with_name("mlflow")
        self.process = subprocess.Popen(
            [
                str(mlflow),
                "server",
                "--backend-store-uri",
                f"sqlite:///{self.root / 'mlflow.db'}",
                "--artifacts-destination",
                str(self.root / "artifacts"),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "server.log", "ab"),
            start_new_session=True,
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError((self.root / "server.log").read_text()[-2000:])
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    import urllib.request

                    if urllib.request.urlopen(f"{self.url}/health", timeout=2).status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("mlflow server did not start in 180 s")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = MlflowServer(tmp_path_factory.mktemp("mlflow")).start()
    yield running
    running.kill()


def runs_of(client: MlflowClient, experiment: str) -> tuple[list, list]:
    """The experiment's sweep runs and trial runs."""
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment}"
    runs = client.search_runs([found.experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags.get("cnnsweep.kind") == "sweep"]
    children = [r for r in runs if "cnnsweep.trial" in r.data.tags]
    return parents, children


@pytest.mark.slow
def test_a_sweep_is_a_parent_run_with_a_child_run_per_trial_and_a_resume_continues_it(server, tmp_path):
    sweep_dir = tmp_path / "sweep"
    # A password in the URI (this server ignores it) must appear in no line and no file.
    with_password = server.url.replace("http://", "http://someone:hunter2@")
    tracking = ["tracking=mlflow", f"tracking.uri={with_password}", "tracking.experiment=digits-e2e"]
    proc = run_cli(
        *sweep_args(sweep_dir, *SEED, "hydra.sweeper.n_trials=3", "hydra.sweeper.ensemble=2", *tracking),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    said = proc.stdout + proc.stderr
    assert "/#/experiments/" in said  # the sweep says where to look
    assert "View run" not in proc.stdout + proc.stderr  # MLflow's own line per run stays quiet
    assert "hunter2" not in said and "someone:***@" in said
    # Every file the sweep wrote, whatever it is: the report, the logs, the study's storage.
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "report.html" for p in written) and any(p.suffix == ".log" for p in written)
    assert any(p.name in ("optuna.db", "optuna.journal") for p in written)
    assert [p for p in written if b"hunter2" in p.read_bytes()] == []
    client = MlflowClient(server.url)
    parents, children = runs_of(client, "digits-e2e")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    parent = parents[0]
    assert parent.data.params["n_trials"] == "3" and "space.model.filters" in parent.data.params
    assert {"report.html", "trials.csv"} <= {a.path for a in client.list_artifacts(parent.info.run_id)}
    table = pd.read_csv(sweep_dir / "trials.csv")
    assert sorted(int(c.data.tags["cnnsweep.trial"]) for c in children) == sorted(table["trial_number"])
    for child in children:
        row = table[table.trial_number == int(child.data.tags["cnnsweep.trial"])].iloc[0]
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.data.tags["cnnsweep.state"] == row.state and child.data.tags["cnnsweep.sent"] == "true"
        assert child.data.params["model.filters"] == str(row["model.filters"])
        assert child.data.params["dataset.name"] == "digits"  # the resolved config as well
        history = client.get_metric_history(child.info.run_id, "val_acc")
        assert [m.step for m in history] == list(range(1, int(row.epochs_run) + 1))
        assert len(client.get_metric_history(child.info.run_id, "learning_rate")) == row.epochs_run
        files = {a.path for a in client.list_artifacts(child.info.run_id)}
        assert {"curves.png", "history.csv", "metrics.json"} <= files
    results = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    best = results["best_trial"]
    parent = client.get_run(parent.info.run_id)  # the parent names the sweep's one best and its basis
    assert parent.data.tags["cnnsweep.best_trial"] == str(best)
    assert parent.data.tags["cnnsweep.best_is"] == "one run"
    assert parent.data.metrics["best_objective"] == pytest.approx(results["best_value"])
    # the ensemble of the two best trials (no refit ran): its test accuracy and its members
    assert parent.data.metrics["ensemble_test_acc"] == pytest.approx(results["ensemble"]["test_acc"])
    assert parent.data.tags["cnnsweep.ensemble"] == ", ".join(results["ensemble"]["members"])
    assert parent.data.params["ensemble"] == "2"
    best_run = next(c for c in children if c.data.tags["cnnsweep.trial"] == str(best))
    assert best_run.data.tags.get("cnnsweep.model") == "true"
    assert best_run.data.metrics["test_acc"] == pytest.approx(table.set_index("trial_number").test_acc[best])

    # resumed by two worker processes: they log into the same parent run
    proc = run_cli(
        *sweep_args(sweep_dir, *SEED, "hydra.sweeper.n_trials=5", "hydra.sweeper.n_jobs=2", *tracking),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    parents, children = runs_of(client, "digits-e2e")
    assert [p.info.run_id for p in parents] == [parent.info.run_id]  # the same parent run
    assert parents[0].info.status == "FINISHED"
    assert sorted(int(c.data.tags["cnnsweep.trial"]) for c in children) == [0, 1, 2, 3, 4]
    assert all(c.data.tags.get("cnnsweep.sent") == "true" for c in children)


@pytest.mark.slow
@pytest.mark.heavy
def test_a_tracking_server_killed_mid_sweep_loses_no_trial(tmp_path):
    server = MlflowServer(tmp_path).start()
    sweep_dir = tmp_path / "sweep"
    args = sweep_args(
        sweep_dir,
        *SEED,
        "hydra.sweeper.n_trials=4",
        "tracking=mlflow",
        f"tracking.uri={server.url}",
        "tracking.experiment=killed",
    )
    sweep = subprocess.Popen(
        [sys.executable, "-m", "cnnsweep", *args],
        cwd=tmp_path,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    client = MlflowClient(server.url)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and sweep.poll() is None:
            experiment = client.get_experiment_by_name("killed")
            runs = client.search_runs([experiment.experiment_id]) if experiment else []
            if any("cnnsweep.trial" in r.data.tags for r in runs):
                break
            time.sleep(0.2)
        server.kill()  # mid-sweep: the first trial's run exists, the others do not yet
        stdout, stderr = sweep.communicate(timeout=400)
    finally:
        sweep.kill()
        server.kill()
    said = stdout + stderr
    assert sweep.returncode == 0, said[-3000:]
    assert "MLflow" in said and "could not" in said and "Nothing is lost" in said
    table = pd.read_csv(sweep_dir / "trials.csv")
    assert len(table) == 4 and set(table.state) <= {"complete", "pruned"}  # no trial lost

    server.start()  # back up: the same command sends what the tracker missed
    proc = run_cli(*args, cwd=tmp_path)
    try:
        assert proc.returncode == 0, proc.stderr[-3000:]
        parents, children = runs_of(MlflowClient(server.url), "killed")
    finally:
        server.kill()
    assert len(parents) == 1
    sent = sorted(int(c.data.tags["cnnsweep.trial"]) for c in children if c.data.tags.get("cnnsweep.sent"))
    assert sent == [0, 1, 2, 3]
    assert len(children) == 4  # half-sent runs were replaced, not duplicated


@pytest.mark.slow
def test_a_single_run_is_one_mlflow_run_with_its_model(server, tmp_path):
    with_password = server.url.replace("http://", "http://someone:hunter2@")
    proc = run_cli(
        "dataset=digits",
        "dataset.train_limit=300",
        "dataset.test_limit=100",
        "trainer.epochs=2",
        "trainer.quiet=true",
        f"hydra.run.dir={tmp_path / 'run'}",
        "tracking=mlflow",
        f"tracking.uri={with_password}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "hunter2" not in proc.stdout + proc.stderr
    assert not [p for p in (tmp_path / "run").rglob("*.yaml") if "hunter2" in p.read_text()]
    client = MlflowClient(server.url)
    experiment = client.get_experiment_by_name("cnnsweep")
    [run] = [r for r in client.search_runs([experiment.experiment_id]) if r.info.run_name == "run"]
    assert run.info.status == "FINISHED" and run.data.tags["cnnsweep.model"] == "true"
    assert run.data.params["trainer.epochs"] == "2" and "test_acc" in run.data.metrics
    assert len(client.get_metric_history(run.info.run_id, "loss")) == 2


@pytest.mark.slow
def test_a_sqlite_store_keeps_its_files_beside_it_not_where_the_command_ran(tmp_path):
    store, here = tmp_path / "store", tmp_path / "here"
    store.mkdir()
    here.mkdir()
    proc = run_cli(
        "dataset=digits",
        "dataset.train_limit=300",
        "dataset.test_limit=100",
        "trainer.epochs=1",
        "trainer.quiet=true",
        f"hydra.run.dir={tmp_path / 'run'}",
        "tracking=mlflow",
        f"tracking.uri=sqlite:///{store / 'mlflow.db'}",
        cwd=here,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert list(here.iterdir()) == []  # no ./mlruns where the command ran
    assert any(p.name == "history.csv" for p in (store / "mlartifacts").rglob("*"))


@pytest.mark.slow
@pytest.mark.heavy
def test_warm_start_and_patience_in_real_sweeps(tmp_path):
    first = tmp_path / "first"
    proc = run_cli(*sweep_args(first, *SEED, "hydra.sweeper.n_trials=3"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    earlier = load_study(first, "seed_cnn")
    best = max(
        (t for t in earlier.trials if t.value is not None and t.state.name == "COMPLETE"),
        key=lambda t: t.value,
    )

    second = tmp_path / "second"
    # min_delta 1.0: no accuracy can improve by 1.0, so patience 2 stops after 3 finished trials
    proc = run_cli(
        *sweep_args(
            second,
            *SEED,
            "hydra.sweeper.n_trials=8",
            f"hydra.sweeper.warm_start.from={first}",
            "hydra.sweeper.warm_start.tell=true",
            "hydra.sweeper.warm_start.top_k=1",
            "hydra.sweeper.patience=2",
            "hydra.sweeper.min_delta=1.0",
            "hydra/sweeper/pruner=none",
        ),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    said = proc.stdout + proc.stderr
    assert "1 of its best configurations queued first" in said
    assert "finished trials of seed_cnn told to the sampler" in said
    assert "the study stopped improving: hydra.sweeper.patience=2" in said
    table = pd.read_csv(second / "trials.csv")
    finished = table[table.state.isin(["complete", "pruned"])]  # infeasible ones do not count
    assert len(finished) == 3 and len(table) < 8  # its own trials only: the told ones are not rows
    first_own = table.sort_values("trial_number").iloc[0]
    assert int(first_own.trial_number) == len(earlier.trials)  # told trials came first in the study
    for key, value in best.params.items():
        assert str(first_own[key]) == str(value)
    results = yaml.safe_load((second / "optimization_results.yaml").read_text())
    assert sum(results["trials"].values()) == len(table)


@pytest.mark.slow
@pytest.mark.heavy
@requires(CHROMIUM is not None, "apt-get install chromium")
def test_the_mlflow_ui_shows_the_sweep_with_its_trials_nested(server, tmp_path):
    from playwright.sync_api import sync_playwright

    sweep_dir = tmp_path / "sweep"
    proc = run_cli(
        *sweep_args(
            sweep_dir,
            *SEED,
            "hydra.sweeper.n_trials=2",
            "tracking=mlflow",
            f"tracking.uri={server.url}",
            "tracking.experiment=ui",
        ),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    experiment = MlflowClient(server.url).get_experiment_by_name("ui")
    shot = REPO / ".pytest-screenshots" if os.environ.get("CNNSWEEP_KEEP_SCREENSHOTS") else tmp_path
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{server.url}/#/experiments/{experiment.experiment_id}/runs", wait_until="load")
        page.get_by_text("seed_cnn").first.wait_for(timeout=60_000)  # the sweep's parent run
        assert not page.get_by_text("trial 1").count()  # its trials are folded under it ...
        page.locator("[role=gridcell] button[data-component-id*='runnamecellrenderer']").first.click()
        page.get_by_text("trial 1").first.wait_for(timeout=30_000)  # ... and unfold with it
        shot.mkdir(exist_ok=True)
        page.screenshot(path=str(shot / "mlflow-ui.png"), full_page=True)
        text = page.inner_text("body")
        browser.close()
    assert "seed_cnn" in text and "trial 0" in text and "trial 1" in text
