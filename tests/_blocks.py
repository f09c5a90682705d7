"""The fenced blocks of README.md and docs/, found by file and heading, and the registry of the
tests that run them as written (``tests/test_docs.py`` fails on a block no test runs).

A block is named by its file, the heading it sits under (the whole heading line, ``#``s
included) and its language: ``bash`` and ``python`` blocks are commands and code, run by a test;
``text`` blocks are output, layouts and other things to read, and need no test. One heading holds
at most one block of each language, so the three name it exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

README = "README.md"
INDEX = "docs/index.md"
TUTORIAL = "docs/tutorial/index.md"
OWN_MODEL = "docs/how-to/own-model.md"
TABULAR = "docs/how-to/tabular.md"
RACING = "docs/how-to/racing.md"
MC_DROPOUT = "docs/how-to/mc-dropout.md"
WORKERS = "docs/how-to/workers-and-postgres.md"
PYTHON_API = "docs/how-to/python-api.md"

TOP = "# sweep"
USING_IT = "## Using it"
FIRST_COMMANDS = "## The two commands"
OWN_MODEL_FILE = "## A complete task file"

RUN_BY: dict[tuple[str, str, str], str] = {
    (README, TOP, "bash"): "tests/test_tutorial.py::test_the_first_command_as_written "
                           "tests/test_tutorial.py::test_the_test_command_is_what_ci_runs",
    (README, USING_IT, "bash"): "tests/test_readme.py::test_the_readme_commands_as_written",
    (TUTORIAL, "## 3. The tutorial's two models on the Keras engine", "bash"):
        "tests/test_tutorial.py::test_the_keras_reproduction_as_written",
    (OWN_MODEL, OWN_MODEL_FILE, "python"): "tests/test_own_model.py::clone",
    (OWN_MODEL, OWN_MODEL_FILE, "bash"): "tests/test_own_model.py::clone",
    (TABULAR, "# A table, no code: `--task tabular`", "bash"):
        "tests/tasks/test_tabular_task.py::test_the_readme_block_as_written",
    (RACING, "# Racing over seeds: `--seeds auto`", "bash"):
        "tests/test_race_run.py::race_block_lines",
    (MC_DROPOUT, "## Ranking a sweep by calibration", "bash"):
        "tests/test_ranking.py::test_the_documented_commands_as_written",
    (WORKERS, "## Several machines: PostgreSQL or MySQL", "bash"):
        "tests/storage/test_drivers.py::readme_postgres_block",
    (PYTHON_API, "## A sweep from a notebook", "python"):
        "tests/test_api.py::test_the_readme_example_runs_as_written",
}
"""Each block a test runs as written: (file, heading, language) -> the tests (``path::name``,
space-separated; a name may be the helper or fixture that reads the block for its tests)."""

COPIES: dict[tuple[str, str, str], tuple[str, str, str]] = {
    (INDEX, FIRST_COMMANDS, "bash"): (README, TOP, "bash"),
    (INDEX, USING_IT, "bash"): (README, USING_IT, "bash"),
    (TUTORIAL, "## 1. Install, and check the installation", "bash"): (README, TOP, "bash"),
    (README, "## Your own model", "python"): (OWN_MODEL, OWN_MODEL_FILE, "python"),
}
"""Blocks that are another block's exact text, so its test runs them too (checked)."""

FENCE = re.compile(r"^```(\S*)\s*$")
HEADING = re.compile(r"^#{1,6} \S")


@dataclass(frozen=True)
class Block:
    path: str  # relative to the repository
    heading: str  # the heading line the block sits under
    kind: str  # its language: bash, python, text ('' when none is given)
    text: str
    line: int  # where its opening fence is, from 1

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.path, self.heading, self.kind)


def fenced_blocks(path: str) -> list[Block]:
    """Every fenced block of a Markdown file, with the heading it sits under (lines inside a
    block, such as a shell comment, are never headings)."""
    found: list[Block] = []
    heading, kind, start, body = "", None, 0, []
    for number, line in enumerate((REPO / path).read_text().splitlines(), 1):
        fence = FENCE.match(line)
        if kind is None and fence:
            kind, start, body = fence.group(1), number, []
        elif kind is not None and line.strip() == "```":
            found.append(Block(path, heading, kind, "".join(body), start))
            kind = None
        elif kind is not None:
            body.append(line + "\n")
        elif HEADING.match(line):
            heading = line.strip()
    assert kind is None, f"{path}: a block opened at line {start} is never closed"
    return found


def documents() -> list[str]:
    """README.md, CHANGELOG.md and every page under docs/."""
    pages = sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").rglob("*.md"))
    return [README, "CHANGELOG.md", *pages]


def block(path: str, heading: str, kind: str = "bash") -> str:
    """The text of the ``kind`` block under ``heading`` in ``path``: one the registry names."""
    assert (path, heading, kind) in RUN_BY, f"register ({path!r}, {heading!r}, {kind!r})"
    matches = [b for b in fenced_blocks(path) if b.key == (path, heading, kind)]
    assert len(matches) == 1, f"{path}: {len(matches)} {kind} blocks under {heading!r}"
    return matches[0].text


def command_lines(text: str) -> list[str]:
    """A bash block's command lines: continuations joined, comments dropped."""
    joined = text.replace("\\\n", " ")
    return [re.sub(r"\s+#.*$", "", line).strip() for line in joined.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def block_lines(path: str, heading: str) -> list[str]:
    """The command lines of the bash block under ``heading`` in ``path``."""
    return command_lines(block(path, heading))
