"""The no-code tabular task: an MLP on a table file, from ``--task tabular --data FILE --target
COLUMN`` (TOML ``task = "tabular"``, ``data``, ``target``; optionally ``hidden_units``,
``target_kind``, ``split_column``).

The model: ``Input -> [Dropout] -> (Dense(units, relu) [MaxNorm] -> [Dropout])* -> output``, one
hidden layer per entry of ``hidden_units`` (default 64,64); placements ``input`` (Dropout on the
features) and ``hidden`` (after every hidden layer); the output a sigmoid unit with binary
cross-entropy and accuracy (two classes), softmax with sparse categorical cross-entropy and
accuracy (more), or a linear unit with MSE, compared on MAE (regression); Adam at Keras'
defaults; batch 32. The data (:mod:`.tabular_data`) is read, split and standardised on train:
a regression target too, so its MAE is in training standard deviations of the target
(:data:`REGRESSION_UNIT`, shown wherever the metric is labelled).

A task is found again from its reference, ``tabular?data=FILE&target=COLUMN&...`` (what a study
stores and workers load); its fingerprint is the file's bytes, so a study refuses a changed file.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from ..exceptions import ConfigError
from ..grid import Cell
from ._base import Task
from .tabular_data import Kind, Table, load_table

PREFIX = "tabular?"
DEFAULT_HIDDEN_UNITS = (64, 64)
KINDS = ("classification", "regression")
OPTIONS = ("data", "target", "hidden_units", "target_kind", "split_column")
REGRESSION_UNIT = "training SDs of the target"
"""The unit of a regression task's MAE: the target is standardised with the training rows'
mean and standard deviation (:func:`.tabular_data.load_table`)."""


def is_tabular(reference: str) -> bool:
    return reference.startswith(PREFIX)


def tabular_reference(data: str | None, target: str | None,
                      hidden_units: tuple[int, ...] | None = None,
                      target_kind: str | None = None, split_column: str | None = None) -> str:
    """The task reference for these options (one line naming what is missing or wrong)."""
    if not data or not target:
        raise ConfigError("task tabular: give the table and its target, e.g. --task tabular "
                          "--data my.csv --target y (TOML: data = \"my.csv\", target = \"y\")")
    if target_kind is not None and target_kind not in KINDS:
        raise ConfigError(f"target_kind: {target_kind!r} is not one of {', '.join(KINDS)}")
    units = DEFAULT_HIDDEN_UNITS if hidden_units is None else hidden_units  # parsed already
    options = {"data": data, "target": target, "hidden_units": ",".join(map(str, units))}
    if target_kind:
        options["target_kind"] = target_kind
    if split_column:
        options["split_column"] = split_column
    return PREFIX + urlencode(options)


def tabular_options(reference: str) -> dict[str, str]:
    return dict(parse_qsl(reference.removeprefix(PREFIX), keep_blank_values=True))


def load_tabular(reference: str) -> Task:
    """The task a tabular reference names; the file is read once per process."""
    options = tabular_options(reference)
    path = Path(options["data"])
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise ConfigError(f"data: {options['data']!r} {what}; give the table's path (a CSV, "
                          f".npz or .parquet file)")
    units = tuple(int(u) for u in options["hidden_units"].split(","))
    kind: Kind | None = options.get("target_kind")  # type: ignore[assignment]
    table = functools.cache(lambda: load_table(path, options["target"], kind=kind,
                                               split_column=options.get("split_column")))
    first = table()
    return Task(
        name=_task_name(path),
        placements=("input", "hidden"),
        load_data=lambda: table().dataset,
        build_model=functools.partial(build_tabular_model, units=units, table=first),
        epochs=100,
        batch_size=32,
        metric="accuracy" if first.kind == "classification" else "mae",
        metric_unit="" if first.kind == "classification" else REGRESSION_UNIT,
        supports_max_norm=True,
        engines=("population", "keras"),
        description=_description(path, options, first, units),
        optimizer="adam",
        placement_words={"input": "on the inputs", "hidden": "after every hidden layer"},
        origin=reference,
        source_file=str(path),
    )


def build_tabular_model(cell: Cell, units: tuple[int, ...], table: Table) -> Any:
    """The MLP for ``cell`` (see the module docstring), compiled."""
    from .._keras import import_keras

    keras = import_keras()
    features = len(table.features)
    layers: list[Any] = [keras.Input((features,))]
    if cell.placement == "input" and cell.rate > 0:
        layers.append(keras.layers.Dropout(cell.rate))
    constraint = None if cell.max_norm is None else keras.constraints.MaxNorm(cell.max_norm)
    for i, width in enumerate(units):
        layers.append(keras.layers.Dense(width, activation="relu", kernel_constraint=constraint,
                                         name=f"hidden_{i + 1}"))
        if cell.placement == "hidden" and cell.rate > 0:
            layers.append(keras.layers.Dropout(cell.rate))
    model = keras.Sequential(layers + [_output(keras, table)])
    model.compile(**_compiled(keras, table))
    return model


def _output(keras: Any, table: Table) -> Any:
    if table.kind == "regression":
        return keras.layers.Dense(1, name="output")
    if len(table.classes) == 2:
        return keras.layers.Dense(1, activation="sigmoid", name="output")
    return keras.layers.Dense(len(table.classes), activation="softmax", name="output")


def _compiled(keras: Any, table: Table) -> Mapping[str, Any]:
    if table.kind == "regression":
        loss, metric = "mse", "mae"
    elif len(table.classes) == 2:
        loss, metric = "binary_crossentropy", "accuracy"
    else:
        loss, metric = "sparse_categorical_crossentropy", "accuracy"
    return {"optimizer": keras.optimizers.Adam(), "loss": loss, "metrics": [metric]}


def _task_name(path: Path) -> str:
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", path.stem).strip("-_") or "table"
    return f"tabular-{stem}"


def _description(path: Path, options: Mapping[str, str], table: Table,
                 units: tuple[int, ...]) -> str:
    rows = len(table.dataset.train_x) + len(table.dataset.test_x)
    mean, sd = table.target_scale
    what = (f"{len(table.classes)}-class classification" if table.kind == "classification"
            else f"regression (target standardised: train mean {mean:.4g}, sd {sd:.4g})")
    return (f"{path.name}: {rows} rows x {len(table.features)} features, {what} of "
            f"{options['target']!r}; MLP {','.join(map(str, units))} (relu), Adam")
