"""The package's layout keeps its promises: no import cycle, small modules, Optuna's private
internals in one place, the documented layout (docs/reference/layout.md) naming every module."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from .conftest import REPO

PACKAGE = REPO / "sweep"
MAX_LINES = 320
PRIVATE_OPTUNA = re.compile(
    r"\._study_id\b|\._trial_id\b|optuna\.storages\._|from optuna\.\w+ import _")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(name: str, path: Path) -> Iterator[str]:
    """The sweep modules ``name`` imports, at any depth of its code: inside functions and
    under ``if TYPE_CHECKING:`` too. An import deferred into a function, or kept for the type
    checker, still says one module needs another; a cycle of them is a cycle of the design,
    worked around rather than cut, so every kind counts."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name in MODULES)
        elif isinstance(node, ast.ImportFrom):
            base = (".".join(package[: len(package) - node.level + 1] + [node.module or ""])
                    .rstrip(".") if node.level else node.module or "")
            submodules = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES]
            yield from submodules or ([base] if base in MODULES else [])


def test_imports_are_read_at_every_depth(tmp_path: Path) -> None:
    """The rule above on a made-up module: a top-level, a function-level and a
    ``TYPE_CHECKING`` import are all edges of the graph."""
    module = tmp_path / "made_up.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "from .grid import Cell\n"
        "if TYPE_CHECKING:\n"
        "    from .storage import SweepStudy\n"
        "def f() -> None:\n"
        "    from .report import summary\n"
    )
    found = set(imports_of("sweep.made_up", module))
    assert found == {"sweep.grid", "sweep.storage", "sweep.report.summary"}


def test_no_import_cycle() -> None:
    graph = {name: set(imports_of(name, path)) - {name} for name, path in MODULES.items()}
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            cycle = trail[trail.index(name):] + [name]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if name in done:
            return
        for imported in sorted(graph[name]):
            visit(imported, trail + [name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])
    assert "sweep.worker" in graph["sweep.runner"]  # the graph is really read
    assert "sweep.tasks" in graph["sweep.report.html"]  # an import under TYPE_CHECKING only


def test_the_race_loads_no_report_module() -> None:
    """The statistics the race decides with are :mod:`sweep.stats`, outside the report
    package: importing the race loads none of the report's modules."""
    code = ("import sys, sweep.racing, sweep.race_answer\n"
            "print(sorted(m for m in sys.modules if m.startswith('sweep.report')))")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, check=True).stdout.strip()
    assert loaded == "[]", loaded


def test_no_module_is_long() -> None:
    long = {name: n for name, path in MODULES.items()
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_optunas_private_internals_are_used_in_one_package_only() -> None:
    private = PACKAGE / "storage" / "_optuna"
    users = sorted(module_name(path) for path in PACKAGE.rglob("*.py")
                   if PRIVATE_OPTUNA.search(path.read_text()))
    assert users, "the pattern finds the private uses"
    assert all(Path(MODULES[u]).is_relative_to(private) for u in users), users


def test_the_readme_layout_names_every_module() -> None:
    """The layout's text block in the reference (it was the README's "## Layout")."""
    page = (REPO / "docs" / "reference" / "layout.md").read_text()
    layout = page[page.index("```text"):]
    layout = layout[: layout.index("```", 3)]
    for path in MODULES.values():
        if path.parent == PACKAGE and path.name != "__init__.py":
            assert path.name in layout, f"docs/reference/layout.md lacks {path.name}"
        elif path.parent.parent == PACKAGE and path.name != "__init__.py" \
                and not path.name.startswith("_"):
            named = path.stem in layout or path.stem.replace("_", "-") in layout
            assert named, f"docs/reference/layout.md lacks {path.parent.name}/{path.stem}"
