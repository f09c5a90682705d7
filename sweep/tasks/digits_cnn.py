"""A small CNN overfitting 200 of scikit-learn's 8x8 digits: dropout after pooling vs spatial.

Data: ``sklearn.datasets.load_digits()`` (1,797 8x8 grey images, 10 classes; ships with
scikit-learn, nothing is downloaded). Pixels 0..16 are scaled to [0, 1]; images have shape
(8, 8, 1), labels are the integers 0-9. One fixed split, stratified by class
(``train_test_split`` of the row indices with ``train_size=200, test_size=500, stratify=y,
random_state=0``): 200 training images (19-21 per class) and 500 test images; the other 1,097
are not used: Keras validates on the test set after every epoch, and validating on all 1,597
remaining images made training about 40 % slower than on 600 in a trial here; 500 keeps the
binomial standard error of one cell's test accuracy near 1.1 points at 93 % accuracy.

Model (the tutorial's CNN example, ``Conv2D(32, (3,3))`` twice then ``MaxPooling2D()``)::

    Input(8, 8, 1) -> Conv2D(32, 3, relu) [MaxNorm] -> Conv2D(32, 3, relu) [MaxNorm]
    -> [SpatialDropout2D]            placement "spatial" or "both": drops whole feature maps
    -> MaxPooling2D(2)
    -> [Dropout]                     placement "pooling" or "both": drops single units
    -> Flatten -> Dense(10, softmax)

``padding="valid"`` (Keras' default): 8x8 -> 6x6 -> 4x4 -> 2x2x32 = 128 features.
Loss ``sparse_categorical_crossentropy``, Adam (Keras defaults), metric ``accuracy``: Keras
names it ``accuracy``/``val_accuracy`` in the History for integer labels, as the Keras engine
expects. Without dropout the model fits the 200 training images exactly (training accuracy 1.0
from about epoch 40) while test accuracy levels off near 0.93: a 7-point gap for dropout to
narrow; test loss bottoms out near epoch 78 and then rises slowly (seeds 0 and 1, 150 epochs).
``epochs`` = 60 puts the baseline well inside that memorising regime; high rates are still
converging at 60 epochs (rate 0.6 "both": training accuracy 0.947), the usual price of one fixed
epoch budget for the whole grid.

Max-norm is supported, on the two convolution kernels only (the hidden layers; the output layer
is unconstrained, as in the circles task): ``MaxNorm(c, axis=(0, 1, 2))`` bounds the norm of
each filter's whole incoming weight tensor (3 x 3 x channels_in), the convolutional analogue
of a dense unit's incoming vector. Keras' default ``axis=0`` would constrain each kernel row
separately, which is not the max-norm of the dropout paper.

Engines: the population engine by default (``sweep/engines/_chain_forward.py`` stacks the
convolutions, pooling, SpatialDropout2D's per-channel masks and per-filter max-norm; shuffled
minibatches per member), the Keras engine with ``--engine keras``. Default sweep (280 cells,
``studies/digits-cnn.toml``) on the project's 2-core machine: 3 min 32 s end to end on the
population engine; ``model.fit`` takes about 9 s per cell (about 43 minutes for the same grid).
With all six max-norms the grid has 1,680 cells.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from ..grid import Cell
from ._base import Dataset, Task

N_TRAIN = 200
N_TEST = 500
SPLIT_SEED = 0
FILTERS = 32
CLASSES = 10
PLACEMENTS = ("pooling", "spatial", "both")


def split_indices(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the fixed training and test sets: stratified by class, disjoint."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(
        np.arange(len(labels)), train_size=N_TRAIN, test_size=N_TEST, stratify=labels,
        random_state=SPLIT_SEED,
    )
    return np.asarray(train), np.asarray(test)


@cache
def load_data() -> Dataset:
    """The fixed 200/500 split, pixels in [0, 1], images of shape (8, 8, 1), labels 0-9."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., np.newaxis]
    y = digits.target.astype(np.int32)
    train, test = split_indices(y)
    return Dataset(x[train], y[train], x[test], y[test])


def build_model(cell: Cell) -> Any:
    """The compiled CNN for one cell (call ``set_random_seed`` first)."""
    from .._keras import import_keras

    dropout = cell.rate > 0
    if dropout and cell.placement not in PLACEMENTS:
        raise ValueError(f"placement {cell.placement!r} is not one of {PLACEMENTS}")
    keras = import_keras()
    layers = keras.layers

    def constraint() -> Any:
        if cell.max_norm is None:
            return None
        return keras.constraints.MaxNorm(cell.max_norm, axis=[0, 1, 2])

    model = keras.Sequential(name="digits_cnn")
    model.add(keras.Input(shape=(8, 8, 1)))
    model.add(layers.Conv2D(FILTERS, 3, activation="relu", kernel_constraint=constraint(),
                            name="conv1"))
    model.add(layers.Conv2D(FILTERS, 3, activation="relu", kernel_constraint=constraint(),
                            name="conv2"))
    if dropout and cell.placement in ("spatial", "both"):
        model.add(layers.SpatialDropout2D(cell.rate, name="spatial_dropout"))
    model.add(layers.MaxPooling2D(2, name="pool"))
    if dropout and cell.placement in ("pooling", "both"):
        model.add(layers.Dropout(cell.rate, name="pooling_dropout"))
    model.add(layers.Flatten(name="flatten"))
    model.add(layers.Dense(CLASSES, activation="softmax", name="output"))
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam",
                  metrics=["accuracy"])
    return model


DIGITS_CNN = Task(
    name="digits-cnn",
    description="Conv-Conv-Pool CNN on sklearn digits (8x8), 200 train / 500 test, 10 classes",
    placements=PLACEMENTS,
    epochs=60,
    batch_size=32,
    optimizer="adam",
    supports_max_norm=True,
    engines=("population", "keras"),
    load_data=load_data,
    build_model=build_model,
    epoch_seconds={"keras": 0.15, "population": 0.012},
    cell_seconds={"keras": 1.3},  # build, compile, first-epoch tracing, evaluate: 1.2-1.4 s
    placement_words={"pooling": "after pooling",
                     "spatial": "as SpatialDropout2D after the convolutions",
                     "both": "as SpatialDropout2D and after pooling"},
)
