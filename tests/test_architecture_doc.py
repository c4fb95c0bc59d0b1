"""docs/architecture.md is the truth about the package's layout: it names every module,
and no module grows past the size where it holds two jobs."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cnnsweep"
DOC = PACKAGE.parent / "docs" / "architecture.md"
MAX_LINES = 350


def named_paths(text: str) -> set[str]:
    """Every code span of the page, as written (`sweep/runner.py`, `data/`, ...)."""
    return set(re.findall(r"`([^`\s]+)`", text))


def unnamed_modules(package: Path, doc_text: str) -> list[str]:
    """The modules and packages under ``package`` that the page does not name by their path
    inside it (a package as ``folder/``, a module as ``folder/module.py``)."""
    named = named_paths(doc_text)
    missing = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if "__pycache__" in relative.parts:
            continue
        if path.name == "__init__.py":
            if relative.parent != Path(".") and f"{relative.parent.as_posix()}/" not in named:
                missing.append(f"{relative.parent.as_posix()}/")
            continue
        if relative.as_posix() not in named:
            missing.append(relative.as_posix())
    return sorted(set(missing))


def test_the_architecture_page_names_every_module():
    assert unnamed_modules(PACKAGE, DOC.read_text()) == []


def test_a_new_module_missing_from_the_page_is_found(tmp_path):
    """The check itself can fail: a module and a package the page does not name."""
    (tmp_path / "pkg" / "wing").mkdir(parents=True)
    for name in ("pkg/__init__.py", "pkg/named.py", "pkg/new.py", "pkg/wing/__init__.py", "pkg/wing/deep.py"):
        (tmp_path / name).write_text("")
    page = "`named.py` and `wing/deep.py`"
    assert unnamed_modules(tmp_path / "pkg", page) == ["new.py", "wing/"]


def test_no_module_passes_350_lines():
    long = {
        path.relative_to(PACKAGE).as_posix(): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
