"""Racing validated by simulation: error rates and cells used, on groups like the circles grid.

The simulated groups are the default tutorial study's own (168 groups): each group's mean and
spread over seeds, and the seeds' correlation between groups, are measured from a completed
``studies/tutorial.db`` (run ``python -m sweep run`` first). Groups whose stored values are
identical seed by seed (max-norms that never bind) stay identical; groups with no spread (input
dropout above 0.3 predicts one class: 0.486 for every seed) stay constant. A simulated seed s of
group g is ``mean_g + sd_g * (sqrt(rho) * z_s + sqrt(1 - rho) * e_gs)``, quantised to the test
set's 70 points.

Each simulated race runs the product's own :func:`sweep.racing.replay`, round by round, on
fresh draws. Measured over ``--races`` races:

- how often the truly best group (the largest simulated mean, with its identical copies) is
  eliminated (at most alpha by design);
- how often the race ends with a wrong answer to "does the best dropout group beat no
  dropout?": the no-dropout baseline eliminated although it is not worse in truth, or the best
  dropout group eliminated against the baseline although it is better in truth;
- the cells the race used, against the fixed design of 10 seeds per group (1,680 cells) and
  against the smallest fixed design whose Holm-corrected paired test of the best group against
  its baseline reaches the race's power.

With ``--null`` no dropout is as good as the best dropout group in truth, so every "the best
dropout group beats no dropout" is a wrong answer: the race's type I error on the question.

    python benchmarks/racing_simulation.py [--races 1000] [--null] [--study tutorial]
                                           [--storage URL]
"""

from __future__ import annotations

import argparse
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sweep.grid import Group
from sweep.racing import RaceSettings, RaceState, replay
from sweep.stats import holm, paired_test
from sweep.storage import completed, open_study

TEST_POINTS = 70


@dataclass(frozen=True)
class Model:
    """What is simulated: per group, its mean and sd over seeds, and the cluster of groups
    that are identical seed by seed; ``rho`` the seeds' correlation between groups."""

    groups: tuple[Group, ...]
    mean: np.ndarray
    sd: np.ndarray
    cluster: np.ndarray
    rho: float

    def draw(self, rng: np.random.Generator, seeds: int) -> np.ndarray:
        """(groups, seeds) values; identical clusters share their draws."""
        clusters = int(self.cluster.max()) + 1
        shared = rng.normal(size=seeds)
        own = rng.normal(size=(clusters, seeds))
        noise = math.sqrt(self.rho) * shared + math.sqrt(1 - self.rho) * own[self.cluster]
        values = self.mean[:, None] + self.sd[:, None] * noise
        return np.clip(np.round(values * TEST_POINTS) / TEST_POINTS, 0.0, 1.0)


def measure(study: str, storage: str | None) -> Model:
    """Means, spreads, identical clusters and the seed correlation of a completed study."""
    sweep_study = open_study(study_name=study, storage_url=storage or
                             f"sqlite:///studies/{study}.db", access="read")
    by_group: dict[Group, dict[int, float]] = {}
    for cell, record in completed(sweep_study.records()).items():
        assert record.value is not None
        by_group.setdefault(cell.group, {})[cell.seed] = record.value
    seeds = sorted(set.intersection(*(set(v) for v in by_group.values())))
    groups = tuple(sorted(by_group, key=lambda g: (g.rate, g.placement, g.max_norm or -1)))
    matrix = np.array([[by_group[g][s] for s in seeds] for g in groups])
    keys: dict[bytes, int] = {}
    cluster = np.array([keys.setdefault(row.tobytes(), len(keys)) for row in matrix])
    spread = matrix.std(axis=1, ddof=1)
    varying = np.unique(cluster[spread > 0], return_index=True)[1]
    rows = matrix[spread > 0][varying]
    corr = np.corrcoef(rows)
    rho = float(np.clip(corr[np.triu_indices_from(corr, 1)].mean(), 0.0, 0.95))
    print(f"measured on study {study!r}: {len(groups)} groups, {len(seeds)} seeds, "
          f"{len(keys)} distinct value vectors, {int((spread == 0).sum())} groups without "
          f"spread, mean sd {spread[spread > 0].mean():.4f}, seed correlation rho {rho:.3f}")
    return Model(groups, matrix.mean(axis=1), spread, cluster, rho)


def null_model(model: Model) -> Model:
    """The same groups with every no-dropout group's mean raised to the best mean."""
    baselines = np.array([g.is_baseline for g in model.groups])
    mean = np.where(baselines, model.mean.max(), model.mean)
    print(f"null model: the {int(baselines.sum())} no-dropout groups' means set to "
          f"{model.mean.max():.4f}, the best dropout group's")
    return Model(model.groups, mean, model.sd, model.cluster, model.rho)


def baseline_of(group: Group) -> Group:
    return Group(0.0, "none", group.max_norm)


@dataclass
class Tally:
    races: int = 0
    best_eliminated: int = 0
    wrong_answer: int = 0
    says_beats: int = 0
    cells: int = 0


def run_race(model: Model, rng: np.random.Generator, settings: RaceSettings) -> RaceState:
    """One race, round by round, each round's cells drawn when the race asks for them."""
    draws = model.draw(rng, settings.max_seeds)
    values: dict[Group, dict[int, float]] = {g: {} for g in model.groups}
    state = replay(values, model.groups, settings)
    while state.next_seeds is not None:
        for group in state.racing:
            i = model.groups.index(group)
            values[group].update({s: float(draws[i, s]) for s in range(state.next_seeds)})
        state = replay(values, model.groups, settings)
    return state


def judge(model: Model, state: RaceState, tally: Tally, cells: int) -> None:
    truth = dict(zip(model.groups, model.mean, strict=True))
    top = max(truth.values())
    truly_best = {g for g, m in truth.items() if m == top}
    eliminated = {v.group: v for look in state.looks for v in look.eliminated}
    tally.races += 1
    tally.cells += cells
    tally.best_eliminated += bool(truly_best & set(eliminated))
    best = state.best
    assert best is not None
    dropout_best = best if not best.is_baseline else max(
        (g for g in model.groups if not g.is_baseline and g not in eliminated),
        key=lambda g: truth[g], default=best)
    base = baseline_of(dropout_best)
    says_beats = base in eliminated
    says_worse = dropout_best in eliminated and eliminated[dropout_best].against.is_baseline
    tally.says_beats += says_beats
    gain = truth[dropout_best] - truth[base]
    tally.wrong_answer += (says_beats and gain <= 0) or (says_worse and gain >= 0)


def fixed_power(model: Model, rng: np.random.Generator, n: int, alpha: float,
                repeats: int) -> float:
    """How often a fixed design of n seeds per group shows, as the report does, the best
    group beating its no-dropout baseline (paired t-test, Holm over every group compared)."""
    wins = 0
    index = {g: i for i, g in enumerate(model.groups)}
    for _ in range(repeats):
        draws = model.draw(rng, n)
        p_values, gains = [], []
        for group in model.groups:
            if group.is_baseline:
                continue
            mine, theirs = draws[index[group]], draws[index[baseline_of(group)]]
            _, diff, _, p = paired_test(dict(enumerate(mine)), dict(enumerate(theirs)))
            p_values.append(p)
            gains.append(diff.mean)
        adjusted = holm(p_values)
        dropout = [g for g in model.groups if not g.is_baseline]
        means = draws.mean(axis=1)
        best = max(range(len(dropout)), key=lambda i: means[index[dropout[i]]])
        wins += adjusted[best] < alpha and gains[best] > 0
    return wins / repeats


def _rate(count: int, races: int) -> str:
    """A count of races as a rate, with its exact (Clopper-Pearson) 95% upper bound."""
    from scipy import stats

    upper = 1.0 if count == races else float(stats.beta.ppf(0.975, count + 1, races - count))
    return f"{count}/{races} = {count / races:.4f} (95% upper bound {upper:.4f})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--races", type=int, default=1000)
    parser.add_argument("--study", default="tutorial")
    parser.add_argument("--storage")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--null", action="store_true", help=(
        "no dropout as good as the best dropout group in truth (every baseline's mean raised "
        "to the best mean): any 'beats no dropout' is then a wrong answer"))
    args = parser.parse_args(argv)
    model = measure(args.study, args.storage)
    if args.null:
        model = null_model(model)
    settings = RaceSettings()
    rng = np.random.default_rng(args.seed)
    tally = Tally()
    ended: Counter[str] = Counter()
    for _ in range(args.races):
        state = run_race(model, rng, settings)
        used = sum(len(look.racing) * (look.seeds - (state.looks[i - 1].seeds if i else 0))
                   for i, look in enumerate(state.looks))
        judge(model, state, tally, used)
        ended[state.ended] += 1
    power = tally.says_beats / tally.races
    mean_cells = tally.cells / tally.races
    print(f"{tally.races} races, n0={settings.n0}, max_seeds={settings.max_seeds}, "
          f"alpha={settings.alpha}, margin={settings.margin}; ended: {dict(ended)}")
    print(f"truly best group eliminated: {_rate(tally.best_eliminated, tally.races)} "
          f"(alpha {settings.alpha})")
    print(f"wrong answer to 'does the best dropout group beat no dropout?': "
          f"{_rate(tally.wrong_answer, tally.races)} (alpha {settings.alpha})")
    print(f"says the best dropout group beats no dropout (power): {power:.3f}")
    print(f"cells used: mean {mean_cells:.0f} vs fixed 10 seeds: {10 * len(model.groups)}")
    for n in (10, 20, 30, 40, 50):
        fixed = fixed_power(model, rng, n, settings.alpha, max(100, args.races // 5))
        print(f"fixed design, {n} seeds ({n * len(model.groups)} cells): power {fixed:.3f}")
        if fixed >= power:
            print(f"same power as the race: {n * len(model.groups)} fixed cells vs "
                  f"{mean_cells:.0f} raced ({n * len(model.groups) / mean_cells:.1f}x)")
            break
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
