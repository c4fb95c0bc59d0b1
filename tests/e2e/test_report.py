"""Reports of real small sweeps, one of them checked in headless Chromium."""

from __future__ import annotations

import shutil

import matplotlib.image
import pandas as pd
import pytest
import yaml

from cnnsweep.report.collect import collect_sweep
from tests.datafiles import write_mnist_idx
from tests.helpers import requires, run_cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


FAST = [
    "trainer.quiet=true",
    "trainer.epochs=3",
    "model=seed",
    "model.padding=valid",
    "model.filters=choice(4,16)",
    "model.kernel_size=choice(2,3,9)",
    "hydra.sweeper.n_trials=6",
    "hydra.sweeper.pruner.n_startup_trials=2",
    "hydra.sweeper.pruner.n_warmup_steps=1",
]


@pytest.fixture(scope="module")
def real_sweeps(tmp_path_factory):
    """Two real small sweeps on different datasets: digits, and tiny MNIST files."""
    root = tmp_path_factory.mktemp("real")
    mnist = write_mnist_idx(root / "mnist", n_train=300, n_test=60)
    sweeps, logs = {}, {}
    confirm = [
        "hydra.sweeper.confirm.top_k=2",
        "hydra.sweeper.confirm.seeds=2",  # the trust sections
        "hydra.sweeper.ablation.seeds=1",
    ]  # and the "why" section's measured path
    for name, data in (
        ("digits", ["dataset=digits", "dataset.train_limit=500", *confirm]),
        ("mnist", ["dataset=mnist", f"dataset.path={mnist}"]),
    ):
        sweep_dir = root / name
        proc = run_cli(
            "--multirun",
            *data,
            *FAST,
            f"hydra.sweep.dir={sweep_dir}",
            f"hydra.sweeper.study_name={name}",
            cwd=root,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        sweeps[name] = sweep_dir
        logs[name] = proc.stdout + proc.stderr
    sweeps["logs"] = logs
    return sweeps


@pytest.mark.slow
def test_sweep_writes_its_report(real_sweeps):
    sweep = real_sweeps["digits"]
    page = (sweep / "report.html").read_text()
    collected = collect_sweep(sweep)
    best = int(collected.best()["trial_number"])
    assert f'class="best-trial">{best}<' in page
    assert str(sweep.parent) not in page  # no absolute path of this machine in a page people share
    for name in ("report_confusion.png", "report_examples.png", "report_importance.png"):
        assert matplotlib.image.imread(sweep / name).size > 0
    assert "Best model: layers and output shapes" in page and "block1_conv1" in page
    assert "infeasible" in page
    effects = pd.read_csv(sweep / "effects.csv")
    assert list(effects.columns) == [
        "key",
        "value",
        "versus",
        "view",
        "trials",
        "others",
        "mean_objective",
        "effect",
        "ci95_lo",
        "ci95_hi",
        "p_value",
        "matters",
        "scored_at",
    ]
    settings = effects[effects["view"] != "shape"]
    assert set(settings["key"]) <= set(collected.param_keys)
    assert set(effects["view"]) <= {"conditional", "marginal", "shape"}
    shapes = effects[effects["view"] == "shape"]  # the lesson's quantities, per doubling
    assert (
        set(shapes["key"])
        <= {"flatten_side", "flatten_values", "receptive_field", "macs_per_image", "params_count"}
        and not shapes["matters"].any()
    )
    assert not effects[effects["view"] == "marginal"]["matters"].any()  # the marginal view names nothing
    configs = collected.confirmed["configs"]
    assert 1 <= len(configs) <= 2 and all(c["runs"] == 2 for c in configs)  # the 2 new seeds alone
    confirm = pd.read_csv(sweep / "confirm.csv")
    assert len(confirm) == 3 * len(configs) and confirm["original"].sum() == len(configs)
    summary = (sweep / "summary.md").read_text()
    assert "## Confirmed with new seeds" in summary and "## Settings that matter" in summary
    table = pd.read_csv(sweep / "trials.csv")
    assert {"flatten_side", "flatten_values", "receptive_field", "macs_per_image"} <= set(table.columns)
    assert table.loc[table["state"] == "complete", "macs_per_image"].gt(0).all()
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    path = pd.read_csv(sweep / "ablation.csv")
    assert path["step"].tolist() == list(range(len(path))) and (path["runs"] == 1).all()
    assert len(results["ablation"]["steps"]) == len(path)
    best, baseline = results["best_params"], results["ablation"]["baseline"]  # the path: one to the other
    changed = {k for k, v in best.items() if str(v) != str(baseline[k])}
    assert {k for step in path["setting"].dropna() for k in step.split(" + ")} == changed


@pytest.mark.slow
def test_a_confirmed_sweep_names_one_best_everywhere(real_sweeps):
    """The report's header, summary.md, the log's last lines, optimization_results.yaml and its
    command all name the confirmation's winner, whatever the best single run was."""
    sweep = real_sweeps["digits"]
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    best = results["confirmed"]["best_trial"]
    assert results["best_trial"] == best and results["best_value_is"].startswith("mean of 2 new-seed runs")
    config = next(c for c in results["confirmed"]["configs"] if c["trial"] == best)
    assert results["best_value"] == pytest.approx(config["mean"])
    trials = pd.read_csv(sweep / "trials.csv").set_index("trial_number")
    for key, value in results["best_params"].items():
        assert str(trials.loc[best, key]) == str(value)
        assert f"{key}={value}" in results["best_command"]
    assert f"trainer.seed={best}" in results["best_command"]  # the trial's own seed: base 0 + its number
    assert f'class="best-trial">{best}<' in (sweep / "report.html").read_text()
    summary = (sweep / "summary.md").read_text()
    assert f"- best: trial {best}, " in summary and results["best_command"] in summary
    log = real_sweeps["logs"]["digits"]
    assert f"best trial {best}: " in log and f"train it again: {results['best_command']}" in log
    assert int(collect_sweep(sweep).best()["trial_number"]) == best


@pytest.mark.slow
def test_cross_sweep_report_side_by_side(real_sweeps, tmp_path):
    proc = run_cli(
        str(real_sweeps["digits"]),
        str(real_sweeps["mnist"]),
        "--out",
        str(tmp_path / "cmp"),
        "--no-model",
        cwd=tmp_path,
        module="cnnsweep.report",
    )
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "cmp" / "report.html").read_text()
    assert "Sweep digits" in page and "Sweep mnist" in page and "Sweeps side by side" in page
    assert str(real_sweeps["digits"].parent) not in page and "../" in page  # named relative to the page
    assert "grid-template-columns: repeat(2," in page
    table = pd.read_csv(tmp_path / "cmp" / "trials.csv")
    assert set(table["sweep"]) == {"digits", "mnist"}
    assert set(table["dataset"]) == {"digits", "mnist"}


@pytest.mark.slow
@requires(CHROMIUM is not None, "apt-get install chromium")
def test_report_renders_in_headless_chromium(real_sweeps):
    from playwright.sync_api import sync_playwright

    report = real_sweeps["digits"] / "report.html"
    best = int(collect_sweep(real_sweeps["digits"]).best()["trial_number"])
    failed, errors = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page()
        page.on("requestfailed", lambda request: failed.append(request.url))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        requests = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(report.as_uri(), wait_until="load")
        sizes = page.eval_on_selector_all(
            "img", "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.getBoundingClientRect().width])"
        )
        text = page.inner_text("body")
        sorted_by = {}
        for click in ("asc", "desc"):  # each header click sorts the rows, then reverses them
            page.click("#trials-report_ th:text-is('objective')")
            sorted_by[click] = page.eval_on_selector(
                "#trials-report_",
                """table => {
                const header = Array.from(table.tHead.rows[0].cells);
                const i = header.findIndex(c => c.textContent.trim() === "objective");
                return Array.from(table.tBodies[0].rows).map(r => r.cells[i].textContent.trim());
            }""",
            )
        browser.close()
    assert failed == [] and errors == []
    for order, cells in sorted_by.items():
        values = [float(c) for c in cells if c]
        assert len(values) >= 3 and values == sorted(values, reverse=order == "desc"), (order, cells)
        assert cells[: len(values)] == [c for c in cells if c]  # empty cells (failed trials) go last
    assert all(url.startswith(("file://", "data:")) for url in requests), requests
    assert len(sizes) >= 8
    assert all(done and natural > 0 and shown > 0 for done, natural, shown in sizes), sizes
    assert f"Best trial {best}:" in text
    verdict = yaml.safe_load((real_sweeps["digits"] / "optimization_results.yaml").read_text())["confirmed"]
    assert "Confirmed with new seeds" in text and verdict["verdict"] in text
    assert "Settings that matter" in text and "Holm" in text
    # six trials cannot carry a model of every searched setting: the page says so instead of guessing
    assert "Not judged:" in text and "the conditional view needs at least" in text
    assert "Why is the best configuration best?" in text and "What each change bought" in text
    assert "What the settings did to the feature maps" in text and "Flatten sees" in text
    assert "the best: layers and output shapes" in text  # each plan's layer table, one click away
    assert "From the baseline to the best, one change at a time" in text
    assert "Confirmed configurations: every run, and each mean's 95% interval" in text
