"""Drawing only: every figure from collected records, with no global matplotlib state."""

from __future__ import annotations

import matplotlib
import matplotlib.font_manager
import matplotlib.image
import numpy as np
import pytest

from cnnsweep.report import evaluate
from cnnsweep.report.collect import collect_sweep
from cnnsweep.report.figures import best_model, parameters, trials
from tests.helpers import requires


@pytest.fixture
def sweep(handmade_sweep):
    return collect_sweep(handmade_sweep)


def _is_png(path):
    image = matplotlib.image.imread(path)
    return image.shape[0] > 100 and image.shape[1] > 100


def test_every_trial_figure_draws_a_png_and_leaves_rcparams_alone(sweep, tmp_path):
    before = dict(matplotlib.rcParams)
    drawn = [
        trials.learning_curves(sweep, tmp_path / "a.png"),
        trials.best_trial_curves(sweep, tmp_path / "b.png"),
        trials.optimization_history(sweep, tmp_path / "c.png"),
        trials.epoch_budget(sweep, tmp_path / "d.png"),
        parameters.param_effects(sweep, tmp_path / "e.png"),
        parameters.parallel_coordinates(sweep, tmp_path / "f.png"),
        parameters.param_importance(
            sweep, evaluate.Importance({"model.filters": 0.7, "x": 0.3}, "test"), tmp_path / "g.png"
        ),
        trials.compare_sweeps([sweep, sweep], tmp_path / "h.png"),
    ]
    assert all(path is not None and _is_png(path) for path in drawn)
    assert dict(matplotlib.rcParams) == before


def test_figures_with_nothing_to_show_return_none(sweep, tmp_path):
    assert parameters.pareto_front(sweep, None, tmp_path / "p.png") is None
    assert parameters.param_importance(sweep, None, tmp_path / "i.png") is None
    assert trials.compare_sweeps([sweep], tmp_path / "c.png") is None
    assert not list(tmp_path.glob("*.png"))


def test_the_effects_forest_draws_the_conditional_rows_and_nothing_without_them(sweep, tmp_path):
    import pandas as pd

    from cnnsweep.analysis import effects

    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {"model.padding": rng.choice(["valid", "same"], 40), "model.kernel_size": rng.choice([2, 3, 5], 40)}
    )
    table["objective"] = 0.9 + 0.02 * (table["model.padding"] == "same") + rng.normal(0, 0.005, 40)
    analysis = effects.analyse(table, ["model.padding", "model.kernel_size"])
    assert [k.key for k in analysis.mattering_keys] == ["model.padding"]
    assert _is_png(parameters.effects_forest(sweep, analysis, tmp_path / "forest.png"))
    too_few = effects.analyse(table.head(5), ["model.padding", "model.kernel_size"])
    assert too_few.reason and parameters.effects_forest(sweep, too_few, tmp_path / "none.png") is None


def test_best_model_figures_from_predictions(tmp_path):
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, 40)
    predictions = evaluate.Predictions(
        4,
        ("a", "b", "c"),
        rng.random((40, 8, 8, 1)),
        truth,
        np.where(np.arange(40) % 5 == 0, (truth + 1) % 3, truth),
    )
    assert _is_png(best_model.confusion_matrix(predictions, tmp_path / "confusion.png"))
    assert _is_png(best_model.example_images(predictions, tmp_path / "examples.png"))


def test_figures_never_import_keras_the_data_loaders_or_optuna():
    import ast
    from pathlib import Path

    import cnnsweep.report.figures as figures

    forbidden = ("keras", "tensorflow", "optuna", "yaml", "cnnsweep.data")
    for module in Path(figures.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            assert not any(n.startswith(forbidden) for n in names), (module.name, names)


def test_axes_that_count_trials_or_epochs_have_integer_ticks(sweep, tmp_path, monkeypatch):
    figures = []
    real_save = trials.save

    def keep(fig, target):
        figures.append(fig)
        return real_save(fig, target)

    monkeypatch.setattr(trials, "save", keep)
    trials.learning_curves(sweep, tmp_path / "a.png")
    trials.optimization_history(sweep, tmp_path / "c.png")
    for fig in figures:
        ticks = fig.axes[0].get_xticks()
        assert len(ticks) and all(float(t).is_integer() for t in ticks), ticks


@requires(
    any(f.name == "WenQuanYi Zen Hei" for f in matplotlib.font_manager.fontManager.ttflist),
    "apt-get install fonts-wqy-zenhei",
)
@pytest.mark.parametrize("name", ["패션 실험", "时尚实验", "Мода и эксперимент"])
def test_names_in_any_script_render_without_missing_glyphs(sweep, tmp_path, name):
    import dataclasses
    import warnings

    named = dataclasses.replace(sweep, name=name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trials.optimization_history(named, tmp_path / "h.png")
        from cnnsweep.curves import plot_curves

        plot_curves({"loss": [1.0, 0.5], "acc": [0.5, 0.8]}, tmp_path / "c.png", title=name)
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert not missing, missing


@requires(
    any("wqy" in path for path in matplotlib.font_manager.findSystemFonts()),
    "apt-get install fonts-wqy-zenhei",
)
def test_a_cjk_font_installed_after_matplotlibs_cache_is_used(tmp_path, monkeypatch):
    """The font cache was built before the font was installed: wide_fonts finds it on disk."""
    from matplotlib import font_manager

    from cnnsweep import fonts

    stale = [f for f in font_manager.fontManager.ttflist if "wqy" not in f.fname]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", stale)  # what a stale cache holds
    monkeypatch.setattr(fonts, "_looked_on_disk", False)
    fig = matplotlib.figure.Figure()
    fig.suptitle("패션 실험")
    fonts.wide_fonts(fig)
    assert "WenQuanYi Zen Hei" in fig.texts[0].get_fontfamily()
    assert any("wqy" in f.fname for f in font_manager.fontManager.ttflist)


def test_the_test_image_grid_shows_each_image_once_its_caption_and_frames_only_the_mistakes(
    tmp_path, monkeypatch
):
    from matplotlib.patches import Rectangle

    from cnnsweep.report import evaluate
    from cnnsweep.report.figures import best_model

    rng = np.random.default_rng(1)
    truth = rng.integers(0, 3, 30)
    predicted = np.where(np.arange(30) % 4 == 0, (truth + 1) % 3, truth)
    predictions = evaluate.Predictions(2, ("a", "b", "c"), rng.random((30, 8, 8, 1)), truth, predicted)
    drawn = []
    monkeypatch.setattr(best_model, "save", lambda fig, target: drawn.append(fig) or target)
    best_model.example_images(predictions, tmp_path / "examples.png")
    [ax] = drawn[0].axes
    shown = predictions.examples()
    assert len(ax.images) == len(shown)
    mistakes = [i for i in shown if predicted[i] != truth[i]]
    assert sum(isinstance(p, Rectangle) for p in ax.patches) == len(mistakes) > 0
    captions = [t.get_text() for t in ax.texts]
    assert sum(c.startswith("✗") for c in captions) == len(mistakes)
    assert captions[0] == f"✗ {'abc'[predicted[shown[0]]]}\n(true {'abc'[truth[shown[0]]]})"
