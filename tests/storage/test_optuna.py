"""Optuna coupling: sweep writes Optuna's tables directly only where the installed Optuna and
the database's tables are what it was written against; otherwise one line, exit 2, and the
study left unchanged."""

from __future__ import annotations

import sqlite3
import tomllib
from contextlib import closing
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from sweep.exceptions import OptunaCompatibilityError, StorageError
from sweep.storage import open_study
from sweep.storage._optuna import (
    OPTUNA_MAJORS,
    OPTUNA_PIN,
    check_version,
    schema_differences,
)
from sweep.storage.synthetic import build_study

from ..conftest import REPO, assert_error_line, cli_in_process, sqlite_dump


def test_the_supported_range_is_pyprojects_pin() -> None:
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "dependencies"]
    pinned = next(r for r in map(Requirement, dependencies) if r.name == "optuna")
    assert pinned.specifier == SpecifierSet(OPTUNA_PIN)
    for version in ("3.6.1", "4.0.0", "4.5.0", "5.0.0", "5.9.1", "6.0.0", "7.1"):
        assert (version in pinned.specifier) == (int(version.split(".")[0]) in OPTUNA_MAJORS)


def test_the_installed_optuna_is_supported() -> None:
    check_version()
    with pytest.raises(OptunaCompatibilityError, match=r"Optuna 6\.0\.0 is installed"):
        check_version("6.0.0")
    assert issubclass(OptunaCompatibilityError, StorageError)
    assert OptunaCompatibilityError.exit_code == 2


@pytest.fixture
def study_db(tmp_path: Path) -> Path:
    db = tmp_path / "studies" / "demo.db"
    build_study(f"sqlite:///{db}", "demo", rates=(0.0, 0.4), placements=("hidden",),
                max_norms=(None,), seeds=2, epochs=20, pending=2).close()
    return db


def test_a_missing_column_is_one_line_and_nothing_is_written(tmp_path: Path,
                                                              study_db: Path) -> None:
    with closing(sqlite3.connect(study_db)) as connection:
        connection.execute("ALTER TABLE trial_user_attributes DROP COLUMN value_json")
        connection.execute("ALTER TABLE trials ADD COLUMN extra INTEGER")
        connection.commit()
    before = sqlite_dump(study_db)
    url = f"sqlite:///{study_db}"
    result = cli_in_process("worker", "--study", "demo", "--storage", url, cwd=tmp_path)
    assert_error_line(result, "trial_user_attributes lacks column value_json")
    assert "trials has column extra" in result.stderr
    assert "optuna storage upgrade" in result.stderr
    for access in ("create", "work", "annotate"):
        with pytest.raises(OptunaCompatibilityError, match="lacks column value_json"):
            open_study(study_name="demo", storage_url=url, access=access,
                       settings=None)
    assert sqlite_dump(study_db) == before
    assert open_study(study_name="demo", storage_url=url, access="read").name == "demo"


def test_matching_tables_have_no_differences(study_db: Path) -> None:
    study = open_study(study_name="demo", storage_url=f"sqlite:///{study_db}", access="work")
    assert schema_differences(study.storage.engine) == []


def test_an_unsupported_optuna_version_is_one_line_and_writes_nothing(
        tmp_path: Path, study_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import optuna

    before = sqlite_dump(study_db)
    monkeypatch.setattr(optuna, "__version__", "6.0.0")  # as an installed Optuna 6 says
    for args in (["worker", "--study", "demo", "--storage", f"sqlite:///{study_db}"],
                 ["run", "--study", "new", "--rates", "0", "--max-norms", "none", "--seeds", "1",
                  "--epochs", "2"]):
        result = cli_in_process(*args, cwd=tmp_path)
        assert_error_line(result, "Optuna 6.0.0 is installed")
        assert "pip install 'optuna>=4.0,<6'" in result.stderr
    assert sqlite_dump(study_db) == before
    assert not (tmp_path / "studies" / "new.db").exists()
