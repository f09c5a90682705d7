"""The command line: help, bad input (exit 2, one line, nothing written). Error lines are
checked in process (``cli_in_process``); one of each kind again in a real subprocess, for its
exit code and the absence of a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import assert_error_line, cli_in_process, run_cli, sqlite_dump

SMALL = ("--study", "demo", "--rates", "0,0.4", "--placements", "hidden", "--max-norms", "none",
         "--seeds", "1", "--epochs", "3")


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = run_cli("--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "run" in result.stdout and "status" in result.stdout
    for command in ("run", "status"):
        sub = run_cli(command, "--help", cwd=tmp_path)
        assert sub.returncode == 0 and "--study" in sub.stdout
    assert "start:stop:step" in run_cli("run", "--help", cwd=tmp_path).stdout


def _replace(args: tuple[str, ...], flag: str, value: str) -> list[str]:
    out = list(args)
    out[out.index(flag) + 1] = value
    return out


@pytest.mark.parametrize(
    ("flag", "value", "fragment"),
    [
        ("--rates", "0,1.0", "rates: 1 is outside [0, 1)"),
        ("--rates", "-0.2", "rates: -0.2 is outside [0, 1)"),
        ("--placements", "hiden", "did you mean 'hidden'"),
        ("--max-norms", "0", "max_norms: 0 must be > 0"),
        ("--max-norms", "none,-1", "max_norms: -1 must be > 0"),
        ("--seeds", "0", "seeds: 0 must be >= 1"),
        ("--seeds", "2,-1", "seeds: -1 is negative"),
        ("--epochs", "0", "epochs: 0 must be >= 1"),
        ("--epochs", "-5", "epochs: -5 must be >= 1"),
    ],
)
def test_bad_flags(tmp_path: Path, flag: str, value: str, fragment: str) -> None:
    result = cli_in_process("run", *_replace(SMALL, flag, value), cwd=tmp_path)
    assert_error_line(result, fragment)
    assert not (tmp_path / "studies").exists()


@pytest.mark.parametrize("argv", [
    ("run", *_replace(SMALL, "--rates", "0,1.0")),
    ("run", "--config", "missing.toml"),
    ("run", "--rate", "0.4"),
    ("fly",),
    ("status", "--study", "nope"),
    ("run", *SMALL, "--storage", "redis://localhost/0"),
])
def test_error_lines_are_the_same_in_a_real_process(tmp_path: Path, argv: tuple[str, ...]
                                                     ) -> None:
    """The process's exit code, stderr and stdout are what ``main`` gives in process."""
    real = run_cli(*argv, cwd=tmp_path)
    inside = cli_in_process(*argv, cwd=tmp_path)
    assert (real.returncode, real.stdout, real.stderr) == (
        inside.returncode, inside.stdout, inside.stderr)
    assert real.returncode == 2 and "Traceback" not in real.stderr
    assert len(real.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_unknown_toml_key(tmp_path: Path) -> None:
    (tmp_path / "typo.toml").write_text('rates = [0.4]\nmax_norm = ["none"]\n')
    result = cli_in_process("run", "--config", "typo.toml", cwd=tmp_path)
    assert_error_line(result, "unknown key 'max_norm'; did you mean 'max_norms'?")
    assert not (tmp_path / "studies").exists()


def test_malformed_toml(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text("rates = [0.4\nseeds = 2\n")
    result = cli_in_process("run", "--config", "broken.toml", cwd=tmp_path)
    assert_error_line(result, "not valid TOML")
    assert not (tmp_path / "studies").exists()


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("redis://localhost/0", "backend 'redis' is not supported"),
        ("not a url", "is malformed"),
        ("sqlite://", "needs a file path"),
    ],
)
def test_bad_storage_url(tmp_path: Path, url: str, fragment: str) -> None:
    result = cli_in_process("run", *SMALL, "--storage", url, cwd=tmp_path)
    assert_error_line(result, fragment)
    assert list(tmp_path.iterdir()) == []


def test_storage_file_that_is_not_sqlite(tmp_path: Path) -> None:
    notes = tmp_path / "notes.db"
    notes.write_text("my precious notes\n")
    result = run_cli("run", *SMALL, "--storage", "sqlite:///notes.db", cwd=tmp_path)
    assert_error_line(result, "exists but is not an SQLite database")
    assert notes.read_text() == "my precious notes\n"


def test_existing_study_with_other_settings(tmp_path: Path) -> None:
    """Once a cell completed, a run with other fixed settings is refused and writes nothing."""
    assert cli_in_process("run", *SMALL, cwd=tmp_path).returncode == 0
    db = tmp_path / "studies" / "demo.db"
    before = sqlite_dump(db)
    result = cli_in_process("run", *_replace(SMALL, "--epochs", "4"), cwd=tmp_path)
    assert_error_line(result, "epochs: study has 3, this run has 4")
    assert sqlite_dump(db) == before


def test_unknown_subcommand_and_flag(tmp_path: Path) -> None:
    assert_error_line(cli_in_process("fly", cwd=tmp_path), "invalid choice")
    result = cli_in_process("run", "--rate", "0.4", cwd=tmp_path)
    assert_error_line(result, "unrecognized arguments")


@pytest.mark.parametrize(("argv", "said", "hint"), [
    (("run", "--rate", "0.4"), "unrecognized arguments: --rate 0.4", "sweep --help"),
    (("status", "--json", "extra"), "unrecognized arguments: extra", "sweep --help"),
    (("fly",), "argument command: invalid choice: 'fly'", "sweep --help"),
    ((), "the following arguments are required: command", "sweep --help"),
    (("run", "--epochs"), "argument --epochs: expected one argument", "sweep run --help"),
    (("report", "--study"), "argument --study: expected one argument", "sweep report --help"),
])
def test_usage_errors_say_sweep_error_once(tmp_path: Path, argv: tuple[str, ...], said: str,
                                           hint: str) -> None:
    """argparse's errors, the top parser's and a command's: "sweep: error: <what>" once (not
    "sweep: error: sweep: ..."), the help of the parser that refused named, one line, exit 2."""
    result = cli_in_process(*argv, cwd=tmp_path)
    assert_error_line(result, said)
    line = result.stderr.strip()
    assert line.startswith(f"sweep: error: {said}"), line
    assert line.count("sweep:") == 1 and line.endswith(f"(see '{hint}')"), line
    assert list(tmp_path.iterdir()) == []


def test_status_of_missing_study(tmp_path: Path) -> None:
    assert_error_line(cli_in_process("status", "--study", "nope", cwd=tmp_path), "no study 'nope'")
    assert not (tmp_path / "studies").exists()


def test_run_then_status_json(tmp_path: Path) -> None:
    run = cli_in_process("run", *SMALL, "--no-progress", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "95% CI" in run.stdout and "best:" in run.stdout
    status = cli_in_process("status", "--study", "demo", "--json", cwd=tmp_path)
    data = json.loads(status.stdout)
    assert data["cells"] == {"total": 2, "complete": 2, "running": 0, "pending": 0, "failed": 0,
                             "stale": 0}
    assert {(g["rate"], g["placement"], g["complete"]) for g in data["groups"]} == {
        (0.0, "none", 1), (0.4, "hidden", 1)}
    text = cli_in_process("status", "--study", "demo", cwd=tmp_path).stdout
    assert "2 cells: 2 complete, 0 running, 0 pending, 0 failed" in text
