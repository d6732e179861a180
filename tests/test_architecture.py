"""The shape the house plan (DESIGN.md) asks for, checked on the source: no import cycles, small
sweeper modules, one place that exits, and a run that never imports the sweeper."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PLUGIN = SRC / "hydra_plugins" / "crescendo_sweeper"
MAX_LINES = 300


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in SRC.rglob("*.py")}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Every project module `path` imports, at its top or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def test_no_import_cycles():
    known = modules()
    graph = {name: imports_of(path, set(known)) - {name} for name, path in known.items()}
    # a package's __init__ re-exporting its modules is not a cycle of the design
    graph = {name: {m for m in deps if not name.startswith(m + ".")} for name, deps in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        stack.append(name)
        for dep in sorted(graph[name]):
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep):] + [dep]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


@pytest.mark.parametrize("path", sorted([*PLUGIN.glob("*.py"), *(SRC / "crescendo" / "search").glob("*.py")]),
                         ids=lambda p: p.name)
def test_search_modules_stay_small(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES, f"{path.name}: split it (one job per module)"


def exits(path: Path) -> list[int]:
    """Lines that raise SystemExit, or call sys.exit / crescendo.errors.exit_with."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Raise) and node.exc is not None:
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(target, ast.Name) and target.id == "SystemExit":
                lines.append(node.lineno)
        elif isinstance(node, ast.Call):
            func = node.func
            if (isinstance(func, ast.Name) and func.id == "exit_with") or (
                    isinstance(func, ast.Attribute) and func.attr == "exit" and getattr(func.value, "id", "") == "sys"):
                lines.append(node.lineno)
    return lines


def test_only_the_sweeper_face_exits():
    assert exits(PLUGIN / "sweeper.py"), "the check below would find nothing"
    for path in PLUGIN.glob("*.py"):
        if path.name != "sweeper.py":
            assert not exits(path), f"{path.name} exits at lines {exits(path)}: raise, and let sweeper.py exit"


def test_a_run_never_imports_the_sweeper():
    known = modules()
    for name, path in known.items():
        if name.startswith("crescendo"):
            sweeper = [m for m in imports_of(path, set(known)) if m.startswith("hydra_plugins")]
            assert not sweeper, f"{name} imports {sweeper}"
