"""Every benchmark figure the README and the configs quote is one benchmarks/results.json holds.

A sentence (of a paragraph, or of a block of comment lines) that names a benchmark
("benchmark 6") may only quote figures that the run of the benchmarks it names wrote:
each decimal number and each percentage in it must be a value of that benchmark's entry
in results.json (a number, or one in a text such as its verdict), as written
or rounded to the digits quoted, also read as a share (x100: percent, points) or as
seconds in minutes (/60).
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
    "9": ["levers"],
    "10": ["tracking"],
    "11": ["why"],
}


def _numbers(node) -> list[float]:
    if isinstance(node, dict):  # the machine's entry holds dates and versions, not figures
        return [x for key, value in node.items() if key != "machine" for x in _numbers(value)]
    if isinstance(node, list):
        return [x for value in node for x in _numbers(value)]
    if isinstance(node, str):
        return [float(x) for x in re.findall(r"\d+\.\d+|\d+", node)]
    if isinstance(node, bool) or not isinstance(node, int | float):
        return []
    return [float(node)]


def _recorded(figure: str, values: list[float]) -> bool:
    digits = len(figure.split(".")[1]) if "." in figure else 0
    quoted = float(figure)
    readings = (1.0, 100.0, 1 / 60)
    # the figure's sign is text before it ("-3.90 points"): magnitudes are compared
    return any(
        abs(abs(round(value * scale, digits)) - quoted) < 1e-9 for value in values for scale in readings
    )


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
def test_each_quoted_benchmark_figure_is_in_results_json(path):
    results = json.loads((REPO / "benchmarks" / "results.json").read_text())

    def values(benchmarks: list[str]) -> list[float]:
        return _numbers([results.get(entry) for number in benchmarks for entry in ENTRIES[number]])

    missing = [
        (figure, named, where)
        for figure, named, where in quoted_figures(path)
        if not _recorded(figure, values(named))
    ]
    assert not missing, f"{path.name} quotes benchmark figures results.json does not hold: {missing}"


def test_the_check_finds_a_figure_no_run_wrote(tmp_path):
    page = tmp_path / "README.md"
    page.write_text(
        "Benchmark 3 measured 41% fewer epochs and 0.9258 test accuracy in 4.3 minutes. "
        "Epoch 1 trains on 10% of the images.\n\nUnrelated: 12.5% of nothing.\n"
    )
    figures = [figure for figure, _, _ in quoted_figures(page)]
    assert quoted_figures(page)[0][1] == ["3"]
    assert figures == ["41", "0.9258", "4.3"]
    values = [0.9258, 255.3, 42.9]
    assert [f for f in figures if not _recorded(f, values)] == ["41"]
