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
- Ties: after the eliminations, the groups left are taken from the best mean down; a group
  whose paired difference with a group already kept (the best first) has its
  ``1 - 2 * alpha_look / pairs`` confidence interval inside ``+-margin`` (two one-sided tests,
  Bonferroni over the pairs compared) is equivalent to it: it stops racing as that group's tie
  and shares its fate. Groups that give the same numbers seed by seed (a max-norm that never
  binds) are ties at the first look, so a grid's copies of one model race once.
- The no-dropout baseline is a group like the others, so it stays in the race until its
  comparison with the best is decided: eliminated (the best dropout group beats no dropout
  beyond noise), tied (equivalent within the margin), or the best itself (every dropout group
  is then eliminated or tied against it).
- The race ends when one group is left (every other eliminated or tied), or at
  ``max_seeds``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from .grid import Group
from .stats import Interval, holm, mean_ci, paired_test, t_quantile

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
    """One racing group against another (the look's best, or for a tie the group it is tied
    with): the paired difference ``group - against`` in the metric's units (sign as the
    metric), its CI, the equivalence CI, the raw and the corrected p."""

    group: Group
    against: Group
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


def _versus(values: Values, group: Group, against: Group, seeds: int,
            equivalence_level: float) -> Versus:
    mine = {s: values[group][s] for s in range(seeds)}
    theirs = {s: values[against][s] for s in range(seeds)}
    n, difference, _, p = paired_test(mine, theirs)
    diffs = [mine[s] - theirs[s] for s in range(seeds)]
    return Versus(group, against, n, difference, mean_ci(diffs, equivalence_level), p, p)


def look(values: Values, racing: Sequence[Group], seeds: int, settings: RaceSettings,
         round_index: int) -> Look:
    """The decisions of one look over seeds ``0..seeds-1`` (every racing group has them)."""
    sign = 1.0 if settings.maximize else -1.0
    order = sorted(racing, key=_order)
    means = {g: _mean(values[g], seeds) for g in order}
    best = max(order, key=lambda g: sign * means[g])
    others = [g for g in order if g != best]
    alpha = settings.look_alpha
    pairs = max(1, len(order) * (len(order) - 1) // 2)
    level = 1 - 2 * alpha / pairs
    raw = [_versus(values, group, best, seeds, level) for group in others]
    adjusted = holm([v.p for v in raw])
    eliminated, kept = [], []
    for versus, p_holm in zip(raw, adjusted, strict=True):
        versus = replace(versus, p_holm=p_holm)
        if p_holm < alpha and sign * versus.difference.mean < 0:
            eliminated.append(versus)
        else:
            kept.append(versus)
    representatives = [best]
    tied, undecided = [], []
    for versus in sorted(kept, key=lambda v: -sign * means[v.group]):
        against = best if _inside(versus.equivalence, settings.margin) else next(
            (r for r in representatives[1:]
             if _equivalent(values, versus.group, r, seeds, level, settings.margin)), None)
        if against is best:
            tied.append(versus)
        elif against is not None:
            tied.append(_versus(values, versus.group, against, seeds, level))
        else:
            representatives.append(versus.group)
            undecided.append(versus)
    return Look(round_index, seeds, best, tuple(order), tuple(eliminated),
                tuple(sorted(tied, key=lambda v: _order(v.group))),
                tuple(sorted(undecided, key=lambda v: _order(v.group))))


def _equivalent(values: Values, group: Group, other: Group, seeds: int, level: float,
                margin: float) -> bool:
    """Whether the paired difference's ``level`` CI lies inside ``+-margin`` (the cheap form of
    :func:`_versus`'s equivalence interval, asked of many pairs at a look)."""
    diffs = [values[group][s] - values[other][s] for s in range(seeds)]
    mean = sum(diffs) / seeds
    if abs(mean) >= margin:
        return False
    spread = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (seeds - 1))
    half = t_quantile(seeds, level) * spread / math.sqrt(seeds)
    return -margin < mean - half and mean + half < margin


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

