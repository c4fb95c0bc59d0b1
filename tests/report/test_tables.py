"""The report's tables: one ranking, escaped HTML, a Markdown summary."""

from __future__ import annotations

from cnnsweep.report import tables
from cnnsweep.report.collect import collect_sweep
from tests.report.conftest import HOSTILE, cut_by_the_budget


def test_top_k_ranks_the_complete_trials_as_best_does(handmade_sweep):
    sweep = collect_sweep(handmade_sweep)
    top = tables.top_k(sweep, k=3)
    assert top["trial_number"].tolist() == [1, 6, 0]
    assert int(sweep.best()["trial_number"]) == top["trial_number"].iloc[0]


def test_the_trials_table_has_the_contract_columns_first(handmade_sweep):
    sweep = collect_sweep(handmade_sweep)
    table = tables.trials_table([sweep])
    assert list(table.columns[:2]) == ["trial_number", "state"]
    assert list(table.columns[2 : 2 + len(sweep.param_keys)]) == sweep.param_keys
    several = tables.trials_table([sweep, sweep])
    assert list(several.columns[:2]) == ["sweep", "dataset"] and len(several) == 2 * len(table)


def test_html_tables_escape_text_and_markdown_names_the_best(handmade_sweep):
    sweep = collect_sweep(handmade_sweep)
    html = tables.html_table(tables.trials_table([sweep]), "t")
    assert HOSTILE not in html and "&lt;script&gt;" in html and 'class="dataframe sortable"' in html
    assert "best: trial 1" in tables.markdown_summary([sweep])


def test_a_search_the_budget_cut_short_says_so_and_one_with_finished_trials_does_not(handmade_sweep):
    assert tables.budget_caution(collect_sweep(handmade_sweep)) is None  # no time budget
    cut_by_the_budget(handmade_sweep, 1)  # trials 0 and 6 still trained to their last epoch
    assert tables.budget_caution(collect_sweep(handmade_sweep)) is None
    cut_by_the_budget(handmade_sweep, 6)
    sweep = collect_sweep(handmade_sweep)
    caution = tables.budget_caution(sweep)
    assert caution is not None
    assert f"1 of {len(sweep.trials)} trials trained to their last epoch (2 stopped by" in caution
    assert "trainer.refit_seconds=" in caution
    assert f"- budget: {caution}" in tables.markdown_summary([sweep])
