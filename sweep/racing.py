"""Racing over seeds: give seeds to the groups that are still in question, drop the rest.

The statistical core of ``--seeds auto`` (plain numbers in, decisions out; nothing here reads
or writes a study, so every decision can be recomputed from stored trials at any time).

Design (a sequential, paired race in the spirit of irace's F-race with paired t-tests):

- Every group gets the same first ``n0`` seeds, then the groups still racing get the next
  seeds together, doubling the count each round up to ``max_seeds`` (:func:`seed_schedule`), so
  every comparison stays paired by seed.
- Repeated looks: alpha is spent evenly over the planned rounds (Bonferroni over looks:
  ``alpha / rounds`` per look, which bounds the race's overall error by ``alpha`` whatever the
  data, as Pocock's boundaries do less conservatively).
- At each look the best group (best mean over the shared seeds, in the objective's direction)
  is compared with every other racing group by a paired t-test on the seeds they share; the
  p-values are Holm-corrected over those comparisons. A group worse than the best beyond seed
  noise (corrected p below the look's alpha) is eliminated, against that best group.
- Ties: a group whose paired difference with the best has its ``1 - 2 * alpha_look / m``
  confidence interval inside ``+-margin`` (two one-sided tests, Bonferroni over the m
  comparisons) is equivalent to the best: it stops racing as a tie.
- The no-dropout baseline is a group like the others, so it stays in the race until its
  comparison with the best is decided: eliminated (the best dropout group beats no dropout
  beyond noise), tied (equivalent within the margin), or the best itself (every dropout group
  is then eliminated or tied against it).
- The race ends when no group is left in question (each eliminated or tied), or at
  ``max_seeds``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .grid import Group
from .report.stats import Interval, holm, mean_ci, paired_test

Values = Mapping[Group, Mapping[int, float]]
"""Each group's metric by seed (the cells of the race completed so far)."""


@dataclass(frozen=True)
class RaceSettings:
    n0: int = 5
    max_seeds: int = 50
    alpha: float = 0.05
    margin: float = 0.005
    maximize: bool = True

    @property
    def schedule(self) -> tuple[int, ...]:
        return seed_schedule(self.n0, self.max_seeds)

    @property
    def look_alpha(self) -> float:
        """Alpha spent at each look: ``alpha`` over the planned rounds."""
        return self.alpha / len(self.schedule)


def seed_schedule(n0: int, max_seeds: int) -> tuple[int, ...]:
    """Seeds per racing group after each round: n0, 2 n0, 4 n0 ... and max_seeds last."""
    if n0 < 2 or max_seeds < n0:
        raise ValueError("a race needs n0 >= 2 and max_seeds >= n0")
    counts = [n0]
    while counts[-1] < max_seeds:
        counts.append(min(2 * counts[-1], max_seeds))
    return tuple(counts)


@dataclass(frozen=True)
class Versus:
    """One racing group against the look's best: the paired difference ``group - best`` in
    the metric's units (sign as the metric), its CIs, the raw and the Holm-corrected p."""

    group: Group
    best: Group
    n_pairs: int
    difference: Interval
    equivalence: Interval
    p: float
    p_holm: float


@dataclass(frozen=True)
class Look:
    """One round's decisions over the seeds ``range(seeds)``."""

    round: int
    seeds: int
    best: Group
    racing: tuple[Group, ...]
    eliminated: tuple[Versus, ...] = ()
    tied: tuple[Versus, ...] = ()
    undecided: tuple[Versus, ...] = ()


@dataclass(frozen=True)
class RaceState:
    """Where a race stands, replayed from the values: its completed looks, the groups still
    racing and how many seeds they need next (``None``: the race is over), and why it ended."""

    looks: tuple[Look, ...]
    racing: tuple[Group, ...]
    next_seeds: int | None
    ended: str = ""
    ties: tuple[Group, ...] = field(default=())

    @property
    def best(self) -> Group | None:
        return self.looks[-1].best if self.looks else None


def _order(group: Group) -> tuple[float, str, float]:
    """A stable order (ties in the best mean go to the first)."""
    return (group.rate, group.placement, -1.0 if group.max_norm is None else group.max_norm)


def _complete(values: Values, groups: Sequence[Group], seeds: int) -> bool:
    return all(all(s in values.get(g, {}) for s in range(seeds)) for g in groups)


def _mean(values: Mapping[int, float], seeds: int) -> float:
    return sum(values[s] for s in range(seeds)) / seeds


def look(values: Values, racing: Sequence[Group], seeds: int, settings: RaceSettings,
         round_index: int) -> Look:
    """The decisions of one look over seeds ``0..seeds-1`` (every racing group has them)."""
    sign = 1.0 if settings.maximize else -1.0
    order = sorted(racing, key=_order)
    best = max(order, key=lambda g: sign * _mean(values[g], seeds))
    others = [g for g in order if g != best]
    alpha = settings.look_alpha
    shared = range(seeds)
    raw = []
    for group in others:
        mine = {s: values[group][s] for s in shared}
        theirs = {s: values[best][s] for s in shared}
        n, difference, _, p = paired_test(mine, theirs)
        diffs = [mine[s] - theirs[s] for s in shared]
        equivalence = mean_ci(diffs, 1 - 2 * alpha / max(1, len(others)))
        raw.append((group, n, difference, equivalence, p))
    adjusted = holm([r[4] for r in raw])
    eliminated, tied, undecided = [], [], []
    for (group, n, difference, equivalence, p), p_holm in zip(raw, adjusted, strict=True):
        versus = Versus(group, best, n, difference, equivalence, p, p_holm)
        worse = sign * difference.mean < 0
        if p_holm < alpha and worse:
            eliminated.append(versus)
        elif _inside(equivalence, settings.margin):
            tied.append(versus)
        else:
            undecided.append(versus)
    return Look(round_index, seeds, best, tuple(order), tuple(eliminated), tuple(tied),
                tuple(undecided))


def _inside(interval: Interval, margin: float) -> bool:
    return (not math.isnan(interval.low)) and -margin < interval.low and interval.high < margin


def replay(values: Values, groups: Sequence[Group], settings: RaceSettings) -> RaceState:
    """Replay the race over the values stored so far: every look whose seeds are complete for
    its racing groups, in order; then what the next round needs."""
    racing = tuple(sorted(groups, key=_order))
    looks: list[Look] = []
    ties: list[Group] = []
    schedule = settings.schedule
    for index, seeds in enumerate(schedule):
        if not _complete(values, racing, seeds):
            return RaceState(tuple(looks), racing, seeds, ties=tuple(ties))
        current = look(values, racing, seeds, settings, index)
        looks.append(current)
        ties += [v.group for v in current.tied]
        racing = tuple([current.best, *(v.group for v in current.undecided)])
        if len(racing) == 1:
            ended = "equivalent" if current.tied else "separated"
            return RaceState(tuple(looks), racing, None, ended, tuple(ties))
    return RaceState(tuple(looks), racing, None, "max_seeds", tuple(ties))
