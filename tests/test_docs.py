"""The project's own docs are self-contained: nothing cites files that users don't have."""

from __future__ import annotations

import re

from .conftest import REPO

OUTSIDE = re.compile(r"/work/shared|REFERENCE\.md|\.\./shared")


def test_no_file_cites_documents_outside_the_repository() -> None:
    cited = []
    for path in sorted(REPO.rglob("*")):
        if any(part in {".git", ".venv", "__pycache__", ".mypy_cache", ".ruff_cache",
                        "studies", "dashboards", "build"} for part in path.parts):
            continue
        readable = path.suffix in {".py", ".md", ".toml", ".sh"} and path.name != "test_docs.py"
        if readable and OUTSIDE.search(path.read_text(encoding="utf-8")):
            cited.append(str(path.relative_to(REPO)))
    assert cited == []


def test_the_engine_cites_the_projects_semantics_doc() -> None:
    source = (REPO / "sweep" / "engines" / "_population_graph.py").read_text()
    assert "docs/keras-semantics.md" in source
    assert (REPO / "docs" / "keras-semantics.md").is_file()
