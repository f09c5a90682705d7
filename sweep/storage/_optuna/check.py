"""Is this Optuna, and are these tables, what sweep's direct writes were made for?"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...exceptions import OptunaCompatibilityError

if TYPE_CHECKING:
    import sqlalchemy

OPTUNA_PIN = ">=4.0,<6"
OPTUNA_MAJORS = range(4, 6)
"""The Optuna major versions :data:`OPTUNA_PIN` allows."""
OPTUNA_TABLES = frozenset({"studies", "trials", "version_info", "alembic_version"})
"""Tables every Optuna RDB storage has: a database without them holds no Optuna study."""
WRITTEN_MODELS = (
    "StudyModel", "StudyUserAttributeModel", "TrialModel", "TrialParamModel", "TrialValueModel",
    "TrialIntermediateValueModel", "TrialUserAttributeModel", "TrialSystemAttributeModel",
    "TrialHeartbeatModel",
)
"""The models of ``optuna.storages._rdb.models`` whose tables sweep writes or reads."""


# ---- checking ----------------------------------------------------------------------------------


def check_version(version: str | None = None) -> None:
    """The installed Optuna (or ``version``) must be within :data:`OPTUNA_PIN`."""
    import optuna

    version = version or optuna.__version__
    major = version.split(".")[0]
    if not major.isdigit() or int(major) not in OPTUNA_MAJORS:
        raise OptunaCompatibilityError(
            f"Optuna {version} is installed, but sweep writes Optuna's tables directly and "
            f"supports optuna{OPTUNA_PIN} only; install one: pip install 'optuna{OPTUNA_PIN}'"
        )


def schema_differences(engine: sqlalchemy.engine.Engine) -> list[str]:
    """How the database's Optuna tables differ from the models sweep writes through:
    ``"trials is missing"``, ``"trial_user_attributes lacks column value_json"``,
    ``"trials has column extra, unknown to Optuna <version>"``; empty when they match."""
    import optuna
    import sqlalchemy as sa
    from optuna.storages._rdb import models

    inspector = sa.inspect(engine)
    tables = set(inspector.get_table_names())
    differences = []
    for name in WRITTEN_MODELS:
        table = getattr(models, name).__table__
        if table.name not in tables:
            differences.append(f"{table.name} is missing")
            continue
        present = {column["name"] for column in inspector.get_columns(table.name)}
        expected = {column.name for column in table.columns}
        differences += [f"{table.name} lacks column {c}" for c in sorted(expected - present)]
        differences += [f"{table.name} has column {c}, unknown to Optuna {optuna.__version__}"
                        for c in sorted(present - expected)]
    return differences


def check_compatible(engine: sqlalchemy.engine.Engine, where: str) -> None:
    """Before writing: Optuna's version, then the tables and columns sweep writes (see the
    module docstring); one line naming what differs and the fix, else nothing."""
    import optuna

    check_version()
    differences = schema_differences(engine)
    if differences:
        shown = "; ".join(differences[:4]) + ("; ..." if len(differences) > 4 else "")
        raise OptunaCompatibilityError(
            f"the Optuna tables in {where} are not what Optuna {optuna.__version__} writes "
            f"({shown}), so sweep writes nothing there; upgrade them with 'optuna storage "
            f"upgrade --storage {where}' or use the Optuna version that made them "
            f"(sweep supports optuna{OPTUNA_PIN})"
        )


def holds_studies(tables: set[str]) -> bool:
    """Whether a database with these tables is an Optuna storage."""
    return tables >= OPTUNA_TABLES


def being_created(tables: set[str]) -> bool:
    """Whether these tables are some of an Optuna storage's and nothing else: another process
    is creating its schema (Optuna creates the tables one by one)."""
    from optuna.storages._rdb import models

    return bool(tables) and tables <= set(models.BaseModel.metadata.tables) | OPTUNA_TABLES
