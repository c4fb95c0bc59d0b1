"""No import cycle anywhere in cnnsweep/: module-level, late (inside a function) and
type-checking imports all count. ``make check`` runs this file.

import-linter's layer contracts skip type-checking imports and cannot see a cycle
between two modules of one layer; grimp's graph (import-linter's own engine) sees
every import statement.
"""

from __future__ import annotations

import grimp


def import_cycles(package: str) -> list[list[str]]:
    """Every set of modules that import each other in a ring (strongly connected
    components of more than one module, or a module importing itself), sorted."""
    graph = grimp.build_graph(package, include_external_packages=False, exclude_type_checking_imports=False)
    edges = {module: sorted(graph.find_modules_directly_imported_by(module)) for module in graph.modules}
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for root in sorted(edges):  # Tarjan's algorithm, iterative: no recursion limit to mind
        if root in order:
            continue
        work = [(root, iter(edges[root]))]
        order[root] = low[root] = len(order)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in order:
                    order[child] = low[child] = len(order)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[module] = min(low[module], order[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[module])
            if low[module] == order[module]:
                ring = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    ring.append(member)
                    if member == module:
                        break
                if len(ring) > 1 or module in edges[module]:
                    cycles.append(sorted(ring))
    return sorted(cycles)


def test_cnnsweep_has_no_import_cycle():
    assert import_cycles("cnnsweep") == []


def test_the_cycle_finder_finds_a_ring_of_late_and_type_checking_imports(tmp_path, monkeypatch):
    """The check itself can fail: a ring through a function-level import and one under
    TYPE_CHECKING, beside an innocent module."""
    package = tmp_path / "ringpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from ringpkg import b\n")
    (package / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ringpkg import a\n"
    )
    (package / "c.py").write_text("from ringpkg import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_cycles("ringpkg") == [["ringpkg.a", "ringpkg.b"]]
