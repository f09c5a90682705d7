"""Shared by the equivalence tests: the distribution check against stored ``model.fit`` figures
(``tests/references``) and a chain population trained on the rows in order."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sweep.engines import CellResult
from sweep.engines._chain_graph import ChainTraining
from sweep.engines._chain_members import build_member, population_shape, stack
from sweep.grid import Cell
from sweep.tasks import Task

from ..references.store import StoredFit

ALPHA = 0.01


def assert_same_distribution(label: str, population: Sequence[CellResult],
                             keras: Sequence[StoredFit], metric: str = "metric") -> None:
    """The final test loss and metric (dropout off) and the last epoch's train loss (dropout
    on, the figure most sensitive to the masks) over the seeds: Welch's t and Mann-Whitney U
    both at least :data:`ALPHA`."""
    from scipy.stats import mannwhitneyu, ttest_ind

    for what, mine, reference in (
        ("test loss", [r.test_loss for r in population], [k.test_loss for k in keras]),
        (f"test {metric}", [r.test_metric for r in population], [k.test_metric for k in keras]),
        ("last train loss", [float(r.curves.train_loss[-1]) for r in population],
         [k.last_train_loss for k in keras]),
    ):
        # at model.fit's precision: sweep stores an accuracy as the exact fraction of its count,
        # the references keep Keras' float32 (34/70 vs 0.48571428656...), which ranks would split
        ours, theirs = np.array(mine, dtype=np.float32), np.array(reference, dtype=np.float32)
        welch = ttest_ind(ours, theirs, equal_var=False).pvalue
        rank = mannwhitneyu(ours, theirs, alternative="two-sided").pvalue
        print(f"{label} {what} (n={len(ours)} and {len(theirs)}): population {ours.mean():.4f} "
              f"+- {ours.std(ddof=1):.4f}, keras {theirs.mean():.4f} +- "
              f"{theirs.std(ddof=1):.4f}; Welch p={welch:.3g}, Mann-Whitney p={rank:.3g}")
        assert welch >= ALPHA and rank >= ALPHA, f"{label} {what}"


def trained_in_order(task: Task, cells: Sequence[Cell], epochs: int,
                     batch_size: int) -> ChainTraining:
    """``cells`` as one chain population trained ``epochs`` epochs on the batches in the rows'
    order (``model.fit(shuffle=False)``'s), evaluated on the test set after each epoch."""
    data = task.load_data()
    members = [build_member(task, cell) for cell in cells]
    shape = population_shape(members, len(members), task.metric, len(data.train_x), batch_size,
                             shuffle=False)
    training = ChainTraining(shape, stack(members, len(members)), (data.train_x, data.train_y),
                             (data.test_x, data.test_y), epochs)
    training.train(epochs)
    return training
