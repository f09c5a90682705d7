"""A table file read into a dataset: the kind from the target, a seeded stratified split or
the file's own, standardisation on training rows only, and one line for each bad file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes

from sweep.exceptions import TaskError
from sweep.tasks.tabular_data import load_table


@pytest.fixture
def cancer_csv(tmp_path: Path) -> Path:
    frame = load_breast_cancer(as_frame=True).frame
    path = tmp_path / "cancer.csv"
    frame.to_csv(path, index=False)
    return path


def test_a_classification_csv_is_split_stratified_and_standardised_on_train(
        cancer_csv: Path) -> None:
    table = load_table(cancer_csv, "target")
    data = table.dataset
    assert table.kind == "classification" and table.classes == ("0", "1")
    assert len(table.features) == 30 and "target" not in table.features
    assert data.train_x.shape == (398, 30) and data.test_x.shape == (171, 30)
    assert data.train_y.dtype == np.float32  # binary: 0/1 for a sigmoid output
    assert data.train_x.mean(axis=0) == pytest.approx(np.zeros(30), abs=1e-5)
    assert data.train_x.std(axis=0) == pytest.approx(np.ones(30), abs=1e-4)
    assert abs(float(data.test_x.mean())) > 1e-4  # the test rows were not used to fit it
    share = data.train_y.mean(), data.test_y.mean()  # stratified: the same class balance
    assert share[0] == pytest.approx(share[1], abs=0.01)
    again = load_table(cancer_csv, "target").dataset
    assert np.array_equal(again.train_x, data.train_x)  # seeded


def test_regression_and_multi_class_are_decided_from_the_target(tmp_path: Path) -> None:
    diabetes = load_diabetes(as_frame=True).frame
    path = tmp_path / "diabetes.csv"
    diabetes.to_csv(path, index=False)
    table = load_table(path, "target")
    assert table.kind == "regression" and table.classes == ()
    assert table.dataset.train_y.dtype == np.float32
    # the target is standardised on the training rows too; the scale removed is kept
    assert table.dataset.train_y.mean() == pytest.approx(0.0, abs=1e-5)
    assert table.dataset.train_y.std() == pytest.approx(1.0, abs=1e-4)
    mean, sd = table.target_scale
    raw = diabetes["target"].to_numpy()
    assert 100 < mean < 200 and 50 < sd < 100
    restored = np.sort(np.concatenate([table.dataset.train_y, table.dataset.test_y]) * sd + mean)
    assert restored == pytest.approx(np.sort(raw), abs=1e-3)
    frame = pd.DataFrame({"a": np.arange(30.0), "b": np.arange(30.0) ** 2,
                          "kind": ["x", "y", "z"] * 10})
    frame.to_csv(tmp_path / "three.csv", index=False)
    multi = load_table(tmp_path / "three.csv", "kind")
    assert multi.classes == ("x", "y", "z") and multi.dataset.train_y.dtype == np.int64
    assert set(multi.dataset.train_y.tolist()) == {0, 1, 2}
    as_regression = load_table(path, "target", kind="regression")
    assert as_regression.kind == "regression"


def test_the_files_own_split_column(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": np.arange(10.0), "y": [0, 1] * 5,
                          "part": ["train"] * 7 + ["Test"] * 3})
    frame.to_csv(tmp_path / "t.csv", index=False)
    data = load_table(tmp_path / "t.csv", "y", split_column="part").dataset
    assert len(data.train_x) == 7 and len(data.test_x) == 3


def test_npz_columns(tmp_path: Path) -> None:
    np.savez(tmp_path / "t.npz", a=np.arange(20.0), b=np.ones(20), y=np.array([0, 1] * 10))
    assert load_table(tmp_path / "t.npz", "y").dataset.train_x.shape == (14, 2)


def _write(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(("frame", "target", "fragment"), [
    (pd.DataFrame({"a": [1.0, 2.0], "y": [0, 1]}), "label",
     "data: no column 'label'; --target must be one of a, y"),
    (pd.DataFrame({"a": [1.0, 2.0], "y": [0, 1]}), "Y", "did you mean 'y'?"),
    (pd.DataFrame({"a": [1.0, None, 3.0, 4.0], "y": [0, 1, 0, 1]}), "y",
     "column 'a' has 1 missing value(s) (first in data row 2); fill or drop them"),
    (pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "c": ["1", "2", "x", "4"], "y": [0, 1, 0, 1]}),
     "y", "column 'c' is not numeric ('x' in data row 3); encode it as numbers"),
    (pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "y": [1, 1, 1, 1]}), "y",
     "target 'y' has one class ('1'); a classifier needs at least two"),
    (pd.DataFrame({"y": [0, 1, 0, 1]}), "y", "has no feature columns besides 'y'"),
])
def test_a_bad_file_is_one_line(tmp_path: Path, frame: pd.DataFrame, target: str,
                                fragment: str) -> None:
    with pytest.raises(TaskError) as caught:
        load_table(_write(tmp_path, frame), target)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_files_that_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="'.*missing.csv' does not exist; check --data"):
        load_table(tmp_path / "missing.csv", "y")
    (tmp_path / "t.xlsx").write_text("x")
    with pytest.raises(TaskError, match="is not a .csv, .npz or .parquet file"):
        load_table(tmp_path / "t.xlsx", "y")
    (tmp_path / "t.npz").write_bytes(b"not a zip")
    with pytest.raises(TaskError, match="cannot be read as .npz: it is not a .npz archive"):
        load_table(tmp_path / "t.npz", "y")
    (tmp_path / "zipped.npz").write_bytes(b"PK\x03\x04 a truncated zip")
    with pytest.raises(TaskError, match="cannot be read as .npz"):
        load_table(tmp_path / "zipped.npz", "y")
    np.save(tmp_path / "one.npy", np.zeros(3))
    (tmp_path / "one.npy").rename(tmp_path / "one.npz")
    with pytest.raises(TaskError, match="it holds one array, not named columns"):
        load_table(tmp_path / "one.npz", "y")
    (tmp_path / "header.csv").write_text("a,y\n")
    with pytest.raises(TaskError, match="has columns but no rows"):
        load_table(tmp_path / "header.csv", "y")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(TaskError, match="cannot be read as .csv"):
        load_table(tmp_path / "empty.csv", "y")
    import os

    os.mkfifo(tmp_path / "pipe.csv")
    with pytest.raises(TaskError, match="is a FIFO \\(named pipe\\), not a regular file"):
        load_table(tmp_path / "pipe.csv", "y")


ROWS = "".join(f"{i % 7},{i % 3},{i % 2}\n" for i in range(40))


@pytest.mark.parametrize(("header", "rows", "fragment"), [
    ("a,y,y\n", ROWS, "names column 'y' more than once (columns 2, 3); give each column"),
    ("a,a,y\n", ROWS, "names column 'a' more than once (columns 1, 2)"),
    ("a,b,y\n", ROWS + "inf,1,0\n", "column 'a' has an infinite value (inf in data row 41)"),
    ("a,b,y\n", ROWS + "1,-inf,0\n", "column 'b' has an infinite value (-inf in data row 41)"),
    ("a,b,y\n", ROWS + "1e308,1,0\n" + "-1e308,1,1\n",
     "column 'a' has values too large to standardise"),
    ("a,b,y\n", "".join(f"{i},{i % 3},{i * 0.37}\n" for i in range(39)) + "1,2,inf\n",
     "column 'y' has an infinite value (inf in data row 40)"),
], ids=["target-twice", "feature-twice", "inf", "minus-inf", "overflowing-sd", "inf-target"])
def test_data_that_would_train_wrongly_is_refused(tmp_path: Path, header: str, rows: str,
                                                  fragment: str) -> None:
    """A duplicated target became feature 'y.1' (every group scored 1.000); a column of 1e308
    standardised to zeros; inf reached training."""
    path = tmp_path / "t.csv"
    path.write_text(header + rows)
    with pytest.raises(TaskError) as caught:
        load_table(path, "y")
    assert fragment in str(caught.value) and "\n" not in str(caught.value)
