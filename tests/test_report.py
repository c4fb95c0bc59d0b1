"""Reports from hand-made sweep dirs (every state, broken files, hostile text) and
from real small sweeps, checked in headless Chromium."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import matplotlib.image
import pandas as pd
import pytest
import yaml

from cnnsweep.errors import UserError
from cnnsweep.report.build import build_report
from cnnsweep.report.collect import collect_sweep
from tests.datafiles import write_mnist_idx
from tests.helpers import run_cli

HOSTILE = "<script>alert('x')</script>"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _trial(sweep: Path, number: int, status: str | None, filters: int, objective=None,
           epochs: int = 3, error: str | None = None, history: bool = True) -> Path:
    trial_dir = sweep / str(number)
    (trial_dir / ".hydra").mkdir(parents=True)
    config = {"dataset": {"name": "digits", "path": None, "train_limit": None, "test_limit": None},
              "model": yaml.safe_load(Path("conf/model/seed.yaml").read_text()) | {"filters": filters},
              "trainer": {"epochs": 5}}
    (trial_dir / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    (trial_dir / ".hydra" / "overrides.yaml").write_text(
        yaml.safe_dump([f"model.filters={filters}", "dataset=digits", f"trainer.seed={number}"]))
    if status is None:
        return trial_dir  # still running: nothing written yet
    metrics = {"status": status, "objective": objective, "objective_name": "val_acc",
               "best_epoch": epochs if objective else None, "epochs_run": epochs if history else 0,
               "val_acc": objective, "val_loss": 0.5, "test_acc": objective and objective - 0.01,
               "test_loss": 0.6, "params_count": 1000 * filters, "train_seconds": 2.5,
               "images_per_second": 500.0, "trial_number": number}
    if error:
        metrics["error"] = error
    (trial_dir / "metrics.json").write_text(json.dumps(metrics))
    if history:
        rows = [{"epoch": e, "loss": 1 / e, "acc": 0.5 + e / 20, "val_loss": 1.1 / e,
                 "val_acc": (objective or 0.3) - (epochs - e) * 0.02} for e in range(1, epochs + 1)]
        pd.DataFrame(rows).to_csv(trial_dir / "history.csv", index=False)
    return trial_dir


@pytest.fixture
def handmade_sweep(tmp_path, monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "optimization_results.yaml").write_text(yaml.safe_dump(
        {"name": f"study {HOSTILE}", "directions": ["maximize"], "objectives": ["objective"]}))
    hostile_config = _trial(sweep, 0, "complete", 8, 0.81)
    overrides = hostile_config / ".hydra" / "overrides.yaml"  # a config value shown as a column
    overrides.write_text(yaml.safe_dump([*yaml.safe_load(overrides.read_text()), f"model.name={HOSTILE}"]))
    _trial(sweep, 1, "complete", 16, 0.93, epochs=5)
    _trial(sweep, 2, "pruned", 4, 0.40, epochs=2, error="pruned after epoch 2")
    _trial(sweep, 3, "failed", 32, None, epochs=1, error=f"loss became NaN {HOSTILE}")
    _trial(sweep, 4, "infeasible", 64, None, error="model.kernel_size=9 does not fit", history=False)
    _trial(sweep, 5, None, 8)  # running
    broken = _trial(sweep, 6, "complete", 16, 0.85)
    (broken / "history.csv").write_text("epoch,loss\n1,0.5,extra,\"unterminated\n")
    corrupt = _trial(sweep, 7, "complete", 8, 0.7)
    (corrupt / "metrics.json").write_text("{not json")
    return sweep


def test_collect_reads_every_state_and_skips_broken_files(handmade_sweep):
    records = collect_sweep(handmade_sweep)
    states = records.trials.set_index("trial_number")["state"].to_dict()
    assert states == {0: "complete", 1: "complete", 2: "pruned", 3: "failed", 4: "infeasible",
                      5: "failed", 6: "complete", 7: "failed"}
    assert records.param_keys == ["model.filters", "model.name", "trainer.seed"]
    assert int(records.best()["trial_number"]) == 1
    assert any("6/history.csv" in p for p in records.problems)
    assert any("7/metrics.json" in p for p in records.problems)
    assert 6 not in records.histories and 1 in records.histories


def test_report_from_handmade_sweep(handmade_sweep, tmp_path):
    out = tmp_path / "out"
    report = build_report([handmade_sweep], out, with_model=False)
    page = report.read_text()
    table = pd.read_csv(out / "trials.csv")
    for column in ("trial_number", "state", "model.filters", "objective", "test_acc", "epochs_run",
                   "params_count", "train_seconds", "error"):
        assert column in table.columns, column
    assert len(table) == 8
    pngs = sorted(out.glob("*.png"))
    assert {p.name for p in pngs} >= {"report_learning_curves.png", "report_history.png",
                                      "report_best_curves.png", "report_params.png",
                                      "report_epochs.png", "report_parallel.png"}
    for png in pngs:
        image = matplotlib.image.imread(png)
        assert image.shape[0] > 100 and image.shape[1] > 100, png
        assert png.name.replace(".png", "") and "data:image/png;base64," in page
    assert page.count("<img ") == len(pngs)
    # hostile text from the study name and an error message is escaped
    assert HOSTILE not in page and "<script>alert" not in page
    assert "&lt;script&gt;alert(" in page
    assert "loss became NaN" in page and "model.kernel_size=9 does not fit" in page
    summary = (out / "summary.md").read_text()
    assert "best: trial 1" in summary and "1 infeasible" in summary


def test_a_model_with_code_in_it_is_never_run_by_the_report(handmade_sweep, tmp_path):
    """model.keras is loaded in Keras's safe mode: a Lambda layer's code is refused."""
    from cnnsweep.backend import import_keras

    keras = import_keras()
    witness = tmp_path / "code-ran"
    inputs = keras.Input((8, 8, 1))
    code = eval(f"lambda x: (__import__('pathlib').Path({str(witness)!r}).write_text('yes'), x)[1]")
    hidden = keras.layers.Lambda(code)(inputs)
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(hidden))
    witness.unlink(missing_ok=True)  # building the model ran the lambda once, here
    keras.Model(inputs, outputs).save(handmade_sweep / "1" / "model.keras")

    out = tmp_path / "out"
    page = build_report([handmade_sweep], out, with_model=True).read_text()
    assert not witness.exists()
    assert not (out / "report_confusion.png").exists()  # the best model was refused, not evaluated
    assert "Learning curves" in page  # the rest of the report is there


@pytest.mark.parametrize("kind", ["missing", "not_sweep", "empty"])
def test_report_bad_input(tmp_path, kind):
    target = tmp_path / "x"
    if kind == "not_sweep":
        target.mkdir()
        (target / "notes.txt").write_text("hi")
    elif kind == "empty":
        target.mkdir()
        (target / "multirun.yaml").write_text("{}")
    proc = run_cli(str(target), cwd=tmp_path, module="cnnsweep.report")
    assert proc.returncode == 2
    assert proc.stderr.startswith("cnnsweep.report: error: ") and "Traceback" not in proc.stderr
    expected = {"missing": "is not a directory", "not_sweep": "is not a sweep dir",
                "empty": "holds no trials yet"}[kind]
    assert expected in proc.stderr


def test_report_unwritable_out(handmade_sweep, tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(UserError, match="--out .* is not a writable directory"):
        build_report([handmade_sweep], tmp_path / "file" / "out", with_model=False)


FAST = ["trainer.quiet=true", "trainer.epochs=3", "model=seed", "model.padding=valid",
        "model.filters=choice(4,16)", "model.kernel_size=choice(2,3,9)", "hydra.sweeper.n_trials=6",
        "hydra.sweeper.pruner.n_startup_trials=2", "hydra.sweeper.pruner.n_warmup_steps=1"]


@pytest.fixture(scope="module")
def real_sweeps(tmp_path_factory):
    """Two real small sweeps on different datasets: digits, and tiny MNIST files."""
    root = tmp_path_factory.mktemp("real")
    mnist = write_mnist_idx(root / "mnist", n_train=300, n_test=60)
    sweeps = {}
    for name, data in (("digits", ["dataset=digits", "dataset.train_limit=500"]),
                       ("mnist", ["dataset=mnist", f"dataset.path={mnist}"])):
        sweep_dir = root / name
        proc = run_cli("--multirun", *data, *FAST, f"hydra.sweep.dir={sweep_dir}",
                       f"hydra.sweeper.study_name={name}", cwd=root)
        assert proc.returncode == 0, proc.stderr[-3000:]
        sweeps[name] = sweep_dir
    return sweeps


@pytest.mark.slow
def test_sweep_writes_its_report(real_sweeps):
    sweep = real_sweeps["digits"]
    page = (sweep / "report.html").read_text()
    records = collect_sweep(sweep)
    best = int(records.best()["trial_number"])
    assert f'class="best-trial">{best}<' in page
    for name in ("report_confusion.png", "report_examples.png", "report_importance.png"):
        assert matplotlib.image.imread(sweep / name).size > 0
    assert "Best model: layers and output shapes" in page and "block1_conv1" in page
    assert "infeasible" in page


@pytest.mark.slow
def test_cross_sweep_report_side_by_side(real_sweeps, tmp_path):
    proc = run_cli(str(real_sweeps["digits"]), str(real_sweeps["mnist"]), "--out", str(tmp_path / "cmp"),
                   "--no-model", cwd=tmp_path, module="cnnsweep.report")
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "cmp" / "report.html").read_text()
    assert "Sweep digits" in page and "Sweep mnist" in page and "Sweeps side by side" in page
    assert "grid-template-columns: repeat(2," in page
    table = pd.read_csv(tmp_path / "cmp" / "trials.csv")
    assert set(table["sweep"]) == {"digits", "mnist"}
    assert set(table["dataset"]) == {"digits", "mnist"}


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="apt-get install chromium")
def test_report_renders_in_headless_chromium(real_sweeps):
    from playwright.sync_api import sync_playwright

    report = real_sweeps["digits"] / "report.html"
    best = int(collect_sweep(real_sweeps["digits"]).best()["trial_number"])
    failed, errors = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        page = browser.new_page()
        page.on("requestfailed", lambda request: failed.append(request.url))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        requests = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(report.as_uri(), wait_until="load")
        sizes = page.eval_on_selector_all(
            "img", "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.getBoundingClientRect().width])")
        text = page.inner_text("body")
        page.click("#trials-report_ th:nth-child(1)")  # the sort script runs without errors
        browser.close()
    assert failed == [] and errors == []
    assert all(url.startswith(("file://", "data:")) for url in requests), requests
    assert len(sizes) >= 8
    assert all(done and natural > 0 and shown > 0 for done, natural, shown in sizes), sizes
    assert f"Best trial {best}:" in text
