"""No import cycles among the modules of workflows/ (issue 13), counting every import the module
holds: at the top, inside `workflow.unsafe.imports_passed_through()`, under `if TYPE_CHECKING:`
and inside functions. A cycle under TYPE_CHECKING is still a part that needs the whole (STYLE:
Shape): give the part a narrow Protocol or the state it needs instead."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "workflows"


def imports_of(path: Path, package: str, modules: set[str]) -> set[str]:
    """The modules of `modules` that the file imports, wherever the import statement stands."""
    name = f"{package}.{path.stem}"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package up
                parts = name.split(".")[: -node.level]
                base = ".".join([*parts, base] if base else parts)
            # `from workflows import order` imports the module workflows.order
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        found.update(target for target in targets if target in modules and target != name)
    return found


def import_graph(directory: Path, package: str) -> dict[str, set[str]]:
    files = sorted(directory.glob("*.py"))
    modules = {f"{package}.{path.stem}" for path in files if path.stem != "__init__"}
    return {
        f"{package}.{path.stem}": imports_of(path, package, modules)
        for path in files
        if path.stem != "__init__"
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups)


def test_the_workflow_modules_import_one_another_without_cycles() -> None:
    graph = import_graph(ROOT / PACKAGE, PACKAGE)
    assert graph.get("workflows.order")  # the walk found imports
    assert cycles(graph) == []


def test_a_cycle_only_under_type_checking_or_in_a_function_is_found(tmp_path: Path) -> None:
    """The check sees what a plain import of the module would not run."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "whole.py").write_text("from pkg.part import Part\n")
    (package / "part.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.whole import Whole\n"
    )
    (package / "lazy.py").write_text("def f():\n    from . import other\n")
    (package / "other.py").write_text("import pkg.lazy\n")
    (package / "alone.py").write_text("import pkg.part\n")
    graph = import_graph(package, "pkg")
    assert graph["pkg.part"] == {"pkg.whole"}
    assert cycles(graph) == [["pkg.lazy", "pkg.other"], ["pkg.part", "pkg.whole"]]
