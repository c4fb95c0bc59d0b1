"""Every benchmark figure the README and the configs quote is one field of benchmarks/results.json.

A sentence (of a paragraph, or of a block of comment lines) that names a benchmark
("benchmark 6") may only quote figures that the run of the benchmarks it names wrote:
each decimal number and each percentage in it is listed in :data:`FIGURES` with the one
field it comes from (a number, or the n-th number of a text such as a verdict: ``#n``)
and how it is read (as written, x100 as percent or points, /60 as minutes), and that
field, rounded to the digits quoted, must give it. A new figure needs its field named here.
"""

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIGURE = re.compile(r"(?<![\w.])(\d+\.\d+|\d+(?=%))(?![\w.]\d)")
NAMES_A_BENCHMARK = re.compile(r"\bbenchmarks? (\d+)\b", re.IGNORECASE)
# benchmarks.run's name of each numbered benchmark (and what else it keeps in results.json)
ENTRIES = {
    "1": ["overhead"],
    "2": ["throughput"],
    "3": ["pruning"],
    "4": ["quality", "quality_runs"],
    "5": ["scaling"],
    "6": ["defaults"],
    "7": ["trust"],
    "8": ["gpu"],
    "9": ["levers", "lever_runs"],
    "10": ["tracking"],
    "11": ["why"],
}


# (file, figure as quoted) -> (its field in results.json, how it is read: 1, 100 or 1/60), or a
# list of them where two benchmarks measured the same figure (the sentence's benchmark picks).
FIGURES: dict[tuple[str, str], tuple[str, float] | list[tuple[str, float]]] = {
    ("README.md", "0.9286"): [
        ("defaults.test_acc", 1),
        ("lever_runs[2].levers.baseline.test_acc[0]", 1),
    ],
    ("README.md", "5.1"): ("defaults.command_s", 1 / 60),
    ("README.md", "54"): ("trust.confirm_share_of_training", 100),
    ("README.md", "42.9"): ("pruning.epochs_saved_pct", 1),
    ("README.md", "0.35"): ("pruning.best_val_acc_diff_points", 1),
    ("README.md", "2.8"): ("why.total_gain_points", 1),
    ("README.md", "95"): ("why.in_words#11", 1),
    ("README.md", "2.2"): ("why.total_gain_ci95_points[0]", 1),
    ("README.md", "3.5"): ("why.total_gain_ci95_points[1]", 1),
    ("README.md", "0.27"): ("lever_runs[0].levers.flip_test.gain_points", 1),
    ("README.md", "0.9281"): [
        ("lever_runs[0].levers.flip_test.mean_test_acc", 1),
        ("lever_runs[2].levers.baseline.mean_test_acc", 1),
    ],
    ("README.md", "0.9275"): ("lever_runs[2].levers.baseline.test_acc[1]", 1),
    ("README.md", "0.47"): ("lever_runs[2].levers.residual.gain_points", 1),
    ("README.md", "0.9332"): ("lever_runs[2].levers.residual.test_acc[0]", 1),
    ("README.md", "0.9322"): ("lever_runs[2].levers.residual.test_acc[1]", 1),
    ("README.md", "1.16"): ("lever_runs[2].levers.deep.gain_points", 1),
    ("README.md", "0.9397"): ("lever_runs[2].levers.deep.mean_test_acc", 1),
    ("README.md", "790.8"): ("lever_runs[2].levers.deep.command_s[1]", 1),
    ("README.md", "295.9"): ("lever_runs[2].levers.baseline.command_s[1]", 1),
    ("README.md", "1.03"): ("lever_runs[2].levers.deep_residual.gain_points", 1),
    ("README.md", "0.9254"): ("lever_runs[0].levers.baseline.mean_test_acc", 1),
    ("README.md", "0.9265"): ("lever_runs[0].levers.baseline.test_acc[0]", 1),
    ("README.md", "0.9243"): ("lever_runs[0].levers.baseline.test_acc[1]", 1),
    ("README.md", "0.9291"): ("lever_runs[1].levers.average.mean_test_acc", 1),
    ("README.md", "0.9288"): ("lever_runs[1].levers.average.test_acc[0]", 1),
    ("README.md", "0.00"): ("lever_runs[1].levers.average.gain_points", 1),
    ("README.md", "0.9363"): ("quality_runs[6].test_acc.cnnsweep", 1),
    ("README.md", "0.9408"): ("quality_runs[7].test_acc.cnnsweep", 1),
    ("README.md", "0.9341"): [
        ("quality_runs[8].test_acc.cnnsweep", 1),
        ("quality_runs[3].test_acc.train_longer", 1),
        ("quality_runs[11].cnnsweep.refit_test_acc", 1),
    ],
    ("README.md", "0.9330"): ("quality_runs[11].test_acc.cnnsweep", 1),
    ("README.md", "0.9334"): ("quality_runs[12].cnnsweep.refit_test_acc", 1),
    ("README.md", "0.9325"): ("quality_runs[13].cnnsweep.refit_test_acc", 1),
    ("README.md", "0.9352"): ("quality_runs[14].test_acc.cnnsweep", 1),
    ("README.md", "0.9364"): ("quality_runs[15].test_acc.cnnsweep", 1),
    ("README.md", "0.9336"): ("quality_runs[9].test_acc.cnnsweep_n_jobs_1", 1),
    ("README.md", "0.9310"): ("quality_runs[10].test_acc.cnnsweep_n_jobs_1", 1),
    ("README.md", "19.7"): [
        ("quality_runs[6].wall_s.cnnsweep", 1 / 60),
        ("quality_runs[18].wall_s.train_longer", 1 / 60),
        ("quality_runs[24].wall_s.keras_tuner_cnnsweep_recipe", 1 / 60),
    ],
    ("README.md", "0.9337"): ("quality_runs[16].test_acc.train_longer", 1),
    ("README.md", "0.9357"): ("quality_runs[17].test_acc.train_longer", 1),
    ("README.md", "0.9345"): [
        ("quality_runs[18].test_acc.train_longer", 1),
        ("quality_runs[27].test_acc.train_longer", 1),
    ],
    ("README.md", "0.9329"): [
        ("quality_runs[1].test_acc.optuna_cnnsweep_recipe", 1),
        ("quality_runs[12].test_acc.cnnsweep", 1),
        ("quality_runs[13].test_acc.cnnsweep", 1),
    ],
    ("README.md", "0.9307"): ("quality_runs[25].test_acc.optuna_cnnsweep_recipe", 1),
    ("README.md", "0.9295"): [
        ("quality_runs[26].test_acc.optuna_cnnsweep_recipe", 1),
        ("lever_runs[1].levers.average.test_acc[1]", 1),
    ],
    ("README.md", "0.9271"): ("quality_runs[27].test_acc.optuna_cnnsweep_recipe", 1),
    ("README.md", "0.9349"): ("quality_runs[26].test_acc.train_longer", 1),
    ("README.md", "0.9346"): ("quality_runs[28].test_acc.train_longer", 1),
    ("README.md", "0.9209"): ("quality_runs[29].test_acc.cnnsweep", 1),
    ("README.md", "0.9234"): ("quality_runs[30].test_acc.cnnsweep", 1),
    ("README.md", "0.9220"): ("quality_runs[31].test_acc.cnnsweep", 1),
    ("README.md", "0.8881"): ("quality_runs[32].test_acc.keras_tuner_cnnsweep_recipe", 1),
    ("README.md", "1230.2"): ("quality_runs[32].wall_s.keras_tuner_cnnsweep_recipe", 1),
    ("README.md", "1228.2"): ("quality_runs[26].wall_s.train_longer", 1),
    ("default.yaml", "0.9286"): ("defaults.test_acc", 1),
    ("default.yaml", "5.1"): ("defaults.command_s", 1 / 60),
    ("seed_cnn.yaml", "0.17"): ("trust.noise_std_points", 1),
}


def field(results: dict, path: str) -> float:
    """The number at ``path`` (``a.b[0].c``, or ``a.b#n``: the n-th number in the text at a.b)."""
    path, _, nth = path.partition("#")
    node: object = results
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        node = node[int(index)] if index else node[name]  # type: ignore[index]
    if nth:
        return float(re.findall(r"\d+\.\d+|\d+", str(node))[int(nth)])
    assert isinstance(node, int | float) and not isinstance(node, bool), f"{path} is no number: {node!r}"
    return float(node)


def matches(figure: str, value: float, reading: float) -> bool:
    """``figure`` is ``value`` read so and rounded to the digits quoted (a sign is text before it)."""
    digits = len(figure.split(".")[1]) if "." in figure else 0
    return abs(abs(round(value * reading, digits)) - float(figure)) < 1e-9


def _paragraphs(path: Path) -> list[str]:
    text = path.read_text()
    if path.suffix == ".md":
        return re.split(r"\n\s*\n", text)
    blocks, block = [], []  # YAML: runs of whole comment lines
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            block.append(line.split("#", 1)[1])
        elif block:
            blocks.append(" ".join(block))
            block = []
    return blocks + ([" ".join(block)] if block else [])


def quoted_figures(path: Path) -> list[tuple[str, list[str], str]]:
    """(figure, the benchmarks named, the sentence's first words) for each figure in a
    sentence naming a benchmark."""
    found = []
    for paragraph in _paragraphs(path):
        for sentence in re.split(r"(?<=[.!?;:])\s+", paragraph):
            if named := NAMES_A_BENCHMARK.findall(sentence):
                where = " ".join(sentence.split()[:8])
                found += [(figure, sorted(set(named)), where) for figure in FIGURE.findall(sentence)]
    return found


SOURCES = [
    REPO / "README.md",
    *sorted((REPO / "conf").rglob("*.yaml")),
    *sorted((REPO / "sweeps").glob("*.yaml")),
]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_each_quoted_benchmark_figure_is_its_named_field_of_results_json(path):
    results = json.loads((REPO / "benchmarks" / "results.json").read_text())
    wrong = []
    for figure, named, where in quoted_figures(path):
        entry = FIGURES.get((path.name, figure))
        if entry is None:
            wrong.append((figure, where, "no field named for it in FIGURES"))
            continue
        candidates = [
            (source, reading)
            for source, reading in (entry if isinstance(entry, list) else [entry])
            if any(re.split(r"[.#\[]", source)[0] in ENTRIES[number] for number in named)
        ]
        if not candidates:
            wrong.append((figure, where, f"no field of benchmark {', '.join(named)} is named for it"))
        elif not any(matches(figure, field(results, source), reading) for source, reading in candidates):
            wrong.append((figure, where, f"{[s for s, _ in candidates]} hold another number"))
    assert not wrong, f"{path.name} quotes benchmark figures results.json does not hold: {wrong}"


def missed_targets(results: dict) -> set[str]:
    """The numbers of the benchmarks whose rendered verdict says a target is NOT met."""
    from benchmarks.report import _quality_verdict, _verdict

    missed = set()
    for number, (name, *_) in ENTRIES.items():
        if name in results:
            verdict = (
                _quality_verdict(results[name], results.get("quality_runs", []))
                if name == "quality"
                else _verdict(name, results[name])
            )
            if "NOT met" in verdict:
                missed.add(number)
    return missed


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_a_figure_of_a_missed_target_is_quoted_as_not_met(path):
    """Where RESULTS.md says a benchmark's target is NOT met, a paragraph quoting that
    benchmark's figures says so too, not just the figures."""
    missed = missed_targets(json.loads((REPO / "benchmarks" / "results.json").read_text()))
    silent = []
    for paragraph in _paragraphs(path):
        named = {
            number
            for sentence in re.split(r"(?<=[.!?;:])\s+", paragraph)
            if FIGURE.search(sentence)
            for number in NAMES_A_BENCHMARK.findall(sentence)
        }
        if named & missed and "not met" not in paragraph.lower():
            silent.append((sorted(named & missed), " ".join(paragraph.split()[:10])))
    assert not silent, f"{path.name} quotes figures of missed targets without saying so: {silent}"


def test_the_not_met_check_reads_the_verdicts():
    results = {"defaults": {"test_acc": 0.93, "command_s": 303.0}, "pruning": _pruning(45.0)}
    assert missed_targets(results) == {"6"}
    results["defaults"]["command_s"] = 290.0
    assert missed_targets(results) == set()


def _pruning(saved: float) -> dict:
    return {"epochs_saved_pct": saved, "best_val_acc_diff_points": 0.1}


def test_the_check_finds_a_figure_no_run_wrote(tmp_path):
    page = tmp_path / "README.md"
    page.write_text(
        "Benchmark 3 measured 41% fewer epochs and 0.9258 test accuracy in 4.3 minutes. "
        "Epoch 1 trains on 10% of the images.\n\nUnrelated: 12.5% of nothing.\n"
    )
    figures = [figure for figure, _, _ in quoted_figures(page)]
    assert quoted_figures(page)[0][1] == ["3"]
    assert figures == ["41", "0.9258", "4.3"]
    results = {"pruning": {"epochs_saved_pct": 42.9, "best_test_acc": 0.92581, "wall_s": 258.0}}
    assert field(results, "pruning.best_test_acc") == 0.92581
    assert matches("0.9258", field(results, "pruning.best_test_acc"), 1)
    assert matches("4.3", field(results, "pruning.wall_s"), 1 / 60)
    assert not matches("41", field(results, "pruning.epochs_saved_pct"), 1)  # 42.9, not 41
    assert not matches("0.9258", field(results, "pruning.wall_s"), 1)  # the right number, named wrong
    assert field({"why": {"in_words": "gained 2.8 points (95% [2.2, 3.5])"}}, "why.in_words#1") == 95


def test_results_md_is_the_fresh_render_of_results_json():
    """RESULTS.md is never edited by hand: it is what benchmarks.report renders from results.json."""
    from benchmarks.report import render

    results = json.loads((REPO / "benchmarks" / "results.json").read_text())
    assert (REPO / "benchmarks" / "RESULTS.md").read_text() == render(results)
