"""examples/lesson.ipynb, top to bottom, on a real Jupyter kernel (tiny digits settings), and the
sweep's inline report in headless Chromium."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import cli_env, requires

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "examples" / "lesson.ipynb"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TINY = (
    'DATASET = "digits"\nSMALL = ["dataset.train_limit=400", "dataset.test_limit=100"]\n'
    "EPOCHS = 2\nTRIALS = 6\n"
)


def _text(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        data = output.get("data", {})
        parts += [data.get("text/plain", ""), data.get("text/html", "")]
    return "\n".join(parts)


def test_the_committed_notebook_has_no_outputs():
    import nbformat

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    (parameters,) = [c for c in notebook.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    parameters.source = TINY
    where = tmp_path_factory.mktemp("notebook")
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(where)}}
    ).execute(env=cli_env())
    return notebook, where


def _cell(notebook, starts: str):
    return next(c for c in notebook.cells if c.cell_type == "code" and c.source.startswith(starts))


@pytest.mark.slow
def test_the_lesson_notebook_runs_top_to_bottom_on_a_real_kernel(executed):
    notebook, where = executed
    assert "block1_conv1" in _text(_cell(notebook, "lesson = ")) and "Flatten sees" in _text(
        _cell(notebook, "lesson = ")
    )
    history = _text(_cell(notebook, "run = "))
    assert "val_acc" in history and "val_loss" in history
    plot = _cell(notebook, "run.plot()")
    assert any("image/png" in o.get("data", {}) for o in plot.outputs)  # the lesson's figure, inline
    assert "cnnsweep sweep" in _text(_cell(notebook, "result = "))
    assert "'trial'" in _text(_cell(notebook, "result.best"))
    assert "conditional" in _text(_cell(notebook, "result.effects")) or "Empty DataFrame" in _text(
        _cell(notebook, "result.effects")
    )
    assert "<iframe srcdoc=" in _text(_cell(notebook, "result.show()"))
    assert _text(notebook.cells[-1]).strip() == "(False, False)"  # no TensorFlow, no JAX in the kernel
    assert len(list((where / "multirun").glob("*/*/trials.csv"))) == 1


@pytest.mark.slow
@requires(CHROMIUM is not None, "apt-get install chromium")
def test_the_inline_report_renders_in_headless_chromium_with_its_images(executed, tmp_path):
    from playwright.sync_api import sync_playwright

    notebook, _ = executed
    (html,) = [o["data"]["text/html"] for o in _cell(notebook, "result.show()").outputs if "data" in o]
    page_file = tmp_path / "cell.html"
    page_file.write_text(f"<html><body>{html}</body></html>")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto(page_file.as_uri(), wait_until="load")
        frame = page.frames[1]
        sizes = frame.eval_on_selector_all("img", "imgs => imgs.map(i => [i.complete, i.naturalWidth])")
        text = frame.inner_text("body")
        browser.close()
    assert "cnnsweep report" in text and "Why is the best configuration best?" in text
    assert len(sizes) >= 4 and all(done and width > 0 for done, width in sizes), sizes
