"""A table file read into a task's dataset: the no-code tabular task's data (not yet a task).

A CSV (or ``.npz`` of named columns; ``.parquet`` when pyarrow is installed) with one target
column. Classification or regression is decided from the target (text, or at most
:data:`MAX_CLASSES` distinct whole numbers: classification) unless given. The split is the
file's own ``split`` column (values ``train`` / ``test``) when named, else a seeded split,
stratified by class for classification. Features, and a regression target, are standardised
with the training rows' mean and standard deviation only. Each problem with a file is one
:class:`TaskError` line naming the column (and a row) and the fix; nothing is guessed.
"""

from __future__ import annotations

import csv
import difflib
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..exceptions import TaskError
from ..files import MISSING, REGULAR, what_is
from ._base import Dataset

if TYPE_CHECKING:
    import pandas as pd

Kind = Literal["classification", "regression"]
MAX_CLASSES = 20
SPLIT_VALUES = ("train", "test")


@dataclass(frozen=True)
class Table:
    """What the tabular task trains on: the dataset and what was decided about the file."""

    dataset: Dataset
    kind: Kind
    features: tuple[str, ...]
    classes: tuple[str, ...]  # classification: the class of each label 0..k-1; else ()
    target_scale: tuple[float, float] = (0.0, 1.0)  # regression: the train mean and sd removed


def read_table(path: Path) -> pd.DataFrame:
    """The file's columns, or one line on why it cannot be read."""
    import pandas as pd

    kind = what_is(path)
    if kind != REGULAR:
        what = kind if kind == MISSING else f"{kind}, not a regular file"
        raise TaskError(f"data: {str(path)!r} {what}; check --data")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            _check_header(path)
            frame = pd.read_csv(path)
        elif suffix == ".npz":
            frame = _read_npz(path)
        elif suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            raise TaskError(f"data: {str(path)!r} is not a .csv, .npz or .parquet file")
    except ImportError as e:
        raise TaskError(f"data: reading {suffix} files needs {e.name or 'pyarrow'}; install it "
                        "or save the table as .csv") from None
    except (ValueError, OSError, UnicodeDecodeError, EOFError, zipfile.BadZipFile,
            pd.errors.ParserError, csv.Error) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise TaskError(f"data: {str(path)!r} cannot be read as {suffix}: {first}") from None
    if len(frame) == 0:
        raise TaskError(f"data: {str(path)!r} has columns but no rows; give a table with data "
                        "rows")
    return frame


def _check_header(path: Path) -> None:
    """A CSV's column names, each once (pandas would rename a second ``y`` to ``y.1``, which
    then becomes a feature: a copy of the target)."""
    with path.open(newline="", encoding="utf-8", errors="replace") as f:
        header = next(csv.reader(f), [])
    twice = [name for name, count in Counter(header).items() if count > 1]
    if twice:
        columns = [i + 1 for i, name in enumerate(header) if name == twice[0]]
        raise TaskError(f"data: {str(path)!r} names column {twice[0]!r} more than once "
                        f"(columns {', '.join(map(str, columns))}); give each column its own "
                        "name")


def _read_npz(path: Path) -> pd.DataFrame:
    import pandas as pd

    with path.open("rb") as f:
        is_npy = f.read(6) == b"\x93NUMPY"
    if not is_npy and not zipfile.is_zipfile(path):
        raise ValueError("it is not a .npz archive (a .npz is a zip file of named arrays); "
                         "save the columns with numpy.savez(path, column=values, ...)")
    arrays = np.load(path, allow_pickle=False)
    if not isinstance(arrays, np.lib.npyio.NpzFile):
        raise ValueError("it holds one array, not named columns; save them with "
                         "numpy.savez(path, column=values, ...)")
    with arrays:
        return pd.DataFrame({name: arrays[name] for name in arrays.files})


def load_table(path: Path, target: str, *, kind: Kind | None = None,
               split_column: str | None = None, test_fraction: float = 0.3,
               seed: int = 0) -> Table:
    """Read, check, split and standardise the table at ``path``."""
    frame = read_table(path)
    _check_columns(frame, target, split_column)
    features = [c for c in frame.columns if c not in (target, split_column)]
    if not features:
        raise TaskError(f"data: {str(path)!r} has no feature columns besides {target!r}")
    for column in [*features, target]:
        _check_missing(frame, column)
    for column in features:
        _check_numeric(frame, column)
    kind = kind or _kind(frame[target])
    labels, classes = _labels(frame[target], kind, target)
    x = frame[features].to_numpy(dtype=np.float64)
    _check_finite(x, features)
    if kind == "regression":
        _check_finite(labels[:, None], [target])
    train, test = _split(frame, labels, kind, split_column, test_fraction, seed)
    with np.errstate(over="ignore", invalid="ignore"):
        mean = x[train].mean(axis=0)
        std = x[train].std(axis=0)
    _check_scalable(mean, std, features)
    if kind == "regression":
        _check_scalable(np.array([labels[train].mean()]), np.array([labels[train].std()]),
                        [target])
    std[std == 0] = 1.0
    scaled = ((x - mean) / std).astype(np.float32)
    scale = (0.0, 1.0)
    if kind == "regression":  # in training standard deviations, as the features
        scale = (float(labels[train].mean()), float(labels[train].std()) or 1.0)
        labels = (labels - scale[0]) / scale[1]
    dtype = np.float32 if kind == "regression" or len(classes) == 2 else np.int64
    y = labels.astype(dtype)
    dataset = Dataset(scaled[train], y[train], scaled[test], y[test])
    return Table(dataset, kind, tuple(map(str, features)), classes, scale)


def _check_columns(frame: pd.DataFrame, target: str, split_column: str | None) -> None:
    for name, flag in ((target, "--target"), (split_column, "--split-column")):
        if name is not None and name not in frame.columns:
            columns = [str(c) for c in frame.columns]
            close = [c for c in columns if c.lower() == name.lower()] or \
                difflib.get_close_matches(name, columns, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TaskError(f"data: no column {name!r}{hint}; {flag} must be one of "
                            f"{', '.join(columns[:20])}{' ...' if len(columns) > 20 else ''}")


def _check_finite(values: np.ndarray, columns: list[str]) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        row, column = (int(i[0]) for i in np.nonzero(bad))
        raise TaskError(f"data: column {columns[column]!r} has an infinite value "
                        f"({values[row, column]} in data row {row + 1}); replace or drop it")


def _check_scalable(mean: np.ndarray, std: np.ndarray, columns: list[str]) -> None:
    """Values so large that their mean or standard deviation overflows would standardise to
    zeros (or NaN): refused, not trained on."""
    bad = ~(np.isfinite(mean) & np.isfinite(std))
    if bad.any():
        name = columns[int(np.flatnonzero(bad)[0])]
        raise TaskError(f"data: column {name!r} has values too large to standardise (their "
                        "standard deviation overflows a float); rescale the column")


def _check_missing(frame: pd.DataFrame, column: str) -> None:
    missing = frame[column].isna()
    if missing.any():
        row = int(np.flatnonzero(missing.to_numpy())[0]) + 1
        raise TaskError(f"data: column {column!r} has {int(missing.sum())} missing value(s) "
                        f"(first in data row {row}); fill or drop them")


def _check_numeric(frame: pd.DataFrame, column: str) -> None:
    import pandas as pd

    values = frame[column]
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return
    numbers = pd.to_numeric(values, errors="coerce")
    bad = int(np.flatnonzero(numbers.isna().to_numpy())[0])
    raise TaskError(f"data: column {column!r} is not numeric ({values.iloc[bad]!r} in data "
                    f"row {bad + 1}); encode it as numbers or drop the column")


def _kind(target: pd.Series) -> Kind:
    import pandas as pd

    if not pd.api.types.is_numeric_dtype(target) or pd.api.types.is_bool_dtype(target):
        return "classification"
    values = target.to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):  # inf: refused later, by name
        whole = bool(np.all(np.mod(values, 1) == 0))
    return "classification" if whole and len(np.unique(values)) <= MAX_CLASSES else "regression"


def _labels(target: pd.Series, kind: Kind, name: str) -> tuple[np.ndarray, tuple[str, ...]]:
    import pandas as pd

    if kind == "regression":
        if not pd.api.types.is_numeric_dtype(target):
            raise TaskError(f"data: target {name!r} is not numeric, so it cannot be regressed; "
                            "drop --target-kind regression or give a numeric target")
        return target.to_numpy(dtype=np.float64), ()
    classes, codes = np.unique(target.astype(str).to_numpy(), return_inverse=True)
    if len(classes) < 2:
        raise TaskError(f"data: target {name!r} has one class ({classes[0]!r}); a classifier "
                        "needs at least two")
    return codes.astype(np.int64), tuple(str(c) for c in classes)


def _split(frame: pd.DataFrame, labels: np.ndarray, kind: Kind, split_column: str | None,
           test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rows = np.arange(len(frame))
    if split_column is not None:
        values = frame[split_column].astype(str).str.strip().str.lower().to_numpy()
        unknown = sorted(set(values) - set(SPLIT_VALUES))
        if unknown:
            raise TaskError(f"data: split column {split_column!r} has {unknown[0]!r}; its "
                            "values must be 'train' or 'test'")
        train, test = rows[values == "train"], rows[values == "test"]
    else:
        from sklearn.model_selection import train_test_split

        stratify: Any = labels if kind == "classification" else None
        try:
            train, test = train_test_split(rows, test_size=test_fraction, random_state=seed,
                                           stratify=stratify)
        except ValueError as e:
            raise TaskError(f"data: {len(rows)} rows cannot be split {1 - test_fraction:.0%} / "
                            f"{test_fraction:.0%} (stratified by class): {e}") from None
    if len(train) < 2 or len(test) < 1:
        raise TaskError(f"data: the split leaves {len(train)} training and {len(test)} test "
                        "rows; give more rows or mark some rows 'test'")
    return np.sort(train), np.sort(test)
