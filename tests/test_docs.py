"""The project's own docs: self-contained (nothing cites files that users don't have), the site
built strictly, the command line reference generated from the parser, the README one screen,
and every bash and python block of README.md and docs/ run by a test as written."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

from ._blocks import (
    COPIES,
    README,
    RUN_BY,
    TOP,
    command_lines,
    documents,
    fenced_blocks,
)
from .conftest import REPO

OUTSIDE = re.compile(r"/work/shared|REFERENCE\.md|\.\./shared")
README_LIMIT = 8000


def test_no_file_cites_documents_outside_the_repository() -> None:
    cited = []
    for path in sorted(REPO.rglob("*")):
        if any(part in {".git", ".venv", "__pycache__", ".mypy_cache", ".ruff_cache",
                        "studies", "dashboards", "build", "site"} for part in path.parts):
            continue
        readable = path.suffix in {".py", ".md", ".toml", ".sh", ".yml"} \
            and path.name != "test_docs.py"
        if readable and OUTSIDE.search(path.read_text(encoding="utf-8")):
            cited.append(str(path.relative_to(REPO)))
    assert cited == []


def test_the_engine_cites_the_projects_semantics_doc() -> None:
    source = (REPO / "sweep" / "engines" / "_chain_graph.py").read_text()
    assert "docs/keras-semantics.md" in source
    assert (REPO / "docs" / "keras-semantics.md").is_file()


# -- the site ---------------------------------------------------------------------------------


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    """mkdocs in strict mode (mkdocs.yml: broken links and anchors, pages missing from the
    navigation or from docs/ all fail), into a folder of its own; the pages it must have."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
         str(REPO / "mkdocs.yml"), "--site-dir", str(tmp_path / "site")],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stderr[-4000:]
    assert "WARNING" not in result.stderr, result.stderr[-4000:]
    site = tmp_path / "site"
    for page in ("index.html", "tutorial/index.html", "how-to/own-model/index.html",
                 "reference/cli/index.html", "reference/python-api/index.html",
                 "explanation/statistics/index.html", "keras-semantics/index.html",
                 "changelog/index.html"):
        assert (site / page).is_file(), page
    api = (site / "reference" / "python-api" / "index.html").read_text()
    for name in ("SweepConfig", "run", "load_summary", "write_report", "Summary", "Task"):
        assert f'id="sweep.{name}"' in api, name  # rendered from the docstrings
    assert ":func:" not in api  # the Sphinx roles dropped (tools/mkdocs_hooks.py)
    changelog = (site / "changelog" / "index.html").read_text()
    assert "--confirm" in changelog  # CHANGELOG.md itself, included
    assert time.monotonic() - started < 120


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_cli_reference", REPO / "tools" / "gen_cli_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_cli_reference_is_what_the_parser_generates() -> None:
    """docs/reference/cli.md is tools/gen_cli_reference.py's output, and names every command
    and every flag of the parser."""
    generator = _generator()
    page = (REPO / "docs" / "reference" / "cli.md").read_text()
    assert page == generator.render(), (
        "docs/reference/cli.md is stale: run .venv/bin/python tools/gen_cli_reference.py")
    from sweep.cli import build_parser

    sub = generator._subcommands(build_parser())
    for name, command in sub.choices.items():
        section = page[page.index(f"## `sweep {name}`"):]
        section = section[: section.find("\n## ", 1) if "\n## " in section[1:] else None]
        for action in command._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert f"`{flag}" in section, (name, flag)


# -- the README -------------------------------------------------------------------------------


def test_the_readme_is_one_screen_with_the_two_commands_first() -> None:
    text = (REPO / README).read_text()
    assert len(text) <= README_LIMIT, len(text)
    first = fenced_blocks(README)[0]
    assert first.key == (README, TOP, "bash")
    assert command_lines(first.text) == [
        "bash tools/setup.sh && .venv/bin/python -m sweep run",
        "bash tools/setup.sh --test && .venv/bin/python -m pytest"]
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == ["## Using it", "## Your own model", "## What the default sweep says",
                        "## Documentation"], headings


def test_the_readmes_links_lead_to_files_and_headings_that_exist() -> None:
    text = (REPO / README).read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert links
    for link in links:
        assert "://" not in link, link
        path, _, anchor = link.partition("#")
        assert (REPO / path).is_file(), link
        if anchor:
            assert anchor in _anchors(REPO / path), link
    pages = {str(p.relative_to(REPO)) for p in (REPO / "docs").rglob("*.md")} - {
        "docs/index.md", "docs/changelog.md"}
    linked = {link.partition("#")[0] for link in links}
    assert pages <= linked, sorted(pages - linked)  # the README's map shows every page


def _anchors(path: Path) -> set[str]:
    """The ids mkdocs gives a page's headings (Python-Markdown's toc slugs)."""
    slugs = set()
    for block_free in _outside_blocks(path.read_text()):
        match = re.match(r"#{1,6} (.+)", block_free)
        if match:
            words = re.sub(r"[^\w\s-]", "", match.group(1).replace("`", "")).strip().lower()
            slugs.add(re.sub(r"[-\s]+", "-", words))
    return slugs


def _outside_blocks(text: str) -> list[str]:
    lines, inside = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            inside = not inside
        elif not inside:
            lines.append(line)
    return lines


def test_the_readmes_inline_commands_are_lines_a_test_runs() -> None:
    """A command written inline in the README (``.venv/bin/...``) is a line of a block that a
    test runs as written."""
    text = " ".join(_outside_blocks((REPO / README).read_text()))
    inline = [span for span in re.findall(r"`([^`]+)`", text)
              if span.startswith((".venv/bin/", "bash ", "python "))]
    ran = {line for (path, heading, kind) in RUN_BY if kind == "bash"
           for line in command_lines(_text(path, heading, kind))}
    assert inline, "the README shows the own-model command inline"
    for span in inline:
        assert " ".join(span.split()) in ran, span


# -- every block run as written ---------------------------------------------------------------


def _text(path: str, heading: str, kind: str) -> str:
    matches = [b.text for b in fenced_blocks(path) if b.key == (path, heading, kind)]
    assert len(matches) == 1, (path, heading, kind, len(matches))
    return matches[0]


def test_every_bash_and_python_block_is_run_by_a_test() -> None:
    """Each ``bash`` and ``python`` block of README.md, CHANGELOG.md and docs/ is in
    tests/_blocks.py's registry (or an exact copy of one that is); ``text`` blocks are output
    and layouts. A block without a language is an error: say which it is."""
    unrun, unnamed, seen = [], [], {}
    for path in documents():
        for found in fenced_blocks(path):
            where = f"{path}:{found.line} under {found.heading!r}"
            if found.kind == "text":
                continue
            if found.kind not in ("bash", "python"):
                unnamed.append(f"{where}: ```{found.kind}")
                continue
            assert found.key not in seen, f"{where}: a second {found.kind} block there"
            seen[found.key] = found
            if found.key not in RUN_BY and found.key not in COPIES:
                unrun.append(where)
    assert unnamed == [], "give each block a language (bash, python or text)"
    assert unrun == [], "run these as written in a test and register them in tests/_blocks.py"


def test_the_registry_names_blocks_and_tests_that_exist() -> None:
    """Every registered block is there, and the tests named for it exist and name its heading
    (they read it through tests/_blocks.py, which refuses an unregistered block)."""
    for (path, heading, kind), tests in RUN_BY.items():
        _text(path, heading, kind)
        for test in tests.split():
            file, _, name = test.partition("::")
            source = (REPO / file).read_text()
            assert re.search(rf"^\s*def {name}\(", source, re.M), test
            assert heading in source or _constant_for(heading) in source, (test, heading)


def _constant_for(heading: str) -> str:
    """The name tests/_blocks.py gives a heading, when tests use it by that name."""
    from . import _blocks

    names = [name for name, value in vars(_blocks).items()
             if name.isupper() and value == heading]
    return names[0] if names else "\0"


def test_copies_are_the_blocks_they_copy() -> None:
    for copy, original in COPIES.items():
        assert original in RUN_BY, (copy, original)
        assert _text(*copy) == _text(*original), f"{copy} is no longer a copy of {original}"


# -- references that must list everything -----------------------------------------------------


def test_the_settings_reference_names_every_key_and_its_flag() -> None:
    from sweep.cli import build_parser
    from sweep.config import KEYS

    page = (REPO / "docs" / "reference" / "settings.md").read_text()
    listed = page[page.index("holds top-level keys named like the flags"):]
    listed = listed[: listed.index(");")]
    assert re.findall(r"`(\w+)`", listed) == list(KEYS)
    table = page[page.index("| setting | forms | default |"):]
    run = generator_flags(build_parser(), "run")
    for key in KEYS:
        assert f"`{key}`" in table, key
        assert f"--{key.replace('_', '-')}" in run, key


def generator_flags(parser: object, command: str) -> set[str]:
    sub = _generator()._subcommands(parser)
    return {flag for action in sub.choices[command]._actions for flag in action.option_strings}


def test_the_summary_reference_names_every_column() -> None:
    from sweep.report.export import COLUMNS, HELD_OUT_COLUMNS

    page = (REPO / "docs" / "reference" / "summary.md").read_text()
    table = page[page.index("| column | what it holds |"):]
    table = table[: table.index("\n\n")]
    named = [name for row in table.splitlines()[2:]
             for name in re.findall(r"`(\w+)`", row.split("|")[1])]
    at = COLUMNS.index("test_ci_high") + 1
    assert named == [*COLUMNS[:at], *HELD_OUT_COLUMNS, *COLUMNS[at:]]
