"""Full-length equivalence: both engines on the tutorial's own setting, 4000 epochs, 20 seeds.

Runs (or resumes) two sweeps with ``python -m sweep run``, exactly as a user would: the no-dropout
baseline (rate 0) and ``Dropout(0.4)`` on the hidden layer, no max-norm, seeds 0..19, one study
per engine in the same database. Then it compares the engines' final test accuracies per
configuration: n, mean and 95% t-CI for each, the difference of means with its Welch 95% CI, a
two-sided Mann-Whitney U test (the criterion of the equivalence tests: p >= 0.01 and means within
0.02), and the mean test accuracy along the way. For rate 0, whose members start from the same
weights and follow the same arithmetic, it also compares the engines seed by seed.

The Keras side is the expensive one: about 4 minutes per trial on this 2-core machine, 40 trials,
which took 1 h 57 min with ``--keras-workers 2`` (the population side: 15 s). A run that is
interrupted resumes where it stopped; ``--compare-only`` skips the runs and reads what the studies
hold.

    python benchmarks/equivalence_full.py [--storage URL] [--seeds N] [--epochs N]
                                          [--keras-workers N] [--compare-only]
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sweep.exceptions import SweepError
from sweep.grid import Cell, Group
from sweep.stats import Interval, mean_ci
from sweep.storage import SweepStudy, completed, load_curves, open_study

ENGINES = ("population", "keras")
CONFIGURATIONS = (Group(0.0, "none", None), Group(0.4, "hidden", None))
LABELS = {CONFIGURATIONS[0]: "no dropout", CONFIGURATIONS[1]: "hidden Dropout(0.4)"}
# The tutorial's one published run of each (REFERENCE section 1): train / test accuracy.
TUTORIAL = {CONFIGURATIONS[0]: (1.000, 0.757), CONFIGURATIONS[1]: (0.967, 0.814)}
ALPHA = 0.01
MAX_MEAN_DIFFERENCE = 0.02
CHECKPOINTS = (250, 500, 1000, 2000, 3000, 4000)
TEST_POINTS = 70  # the circles task's test rows
DEFAULT_STORAGE = "sqlite:///benchmarks/results/equivalence.db"


@dataclass(frozen=True)
class EngineResults:
    test: dict[Cell, float]
    train: dict[Cell, float]
    test_loss: dict[Cell, float]
    curves: dict[Cell, tuple[np.ndarray, np.ndarray]]  # (1-based epochs, test accuracy)


def study_name(engine: str) -> str:
    return f"equiv-{engine}"


def run(engine: str, args: argparse.Namespace) -> None:
    command = [
        sys.executable, "-m", "sweep", "run", "--study", study_name(engine),
        "--storage", args.storage, "--engine", engine, "--rates", "0,0.4",
        "--placements", "hidden", "--max-norms", "none", "--seeds", str(args.seeds),
        "--epochs", str(args.epochs), "--no-progress",
    ]
    if engine == "keras":
        command += ["--workers", str(args.keras_workers)]
    print("$", " ".join(command[1:]), flush=True)
    subprocess.run(command, check=True)


def load(engine: str, storage: str) -> EngineResults:
    study: SweepStudy = open_study(
        study_name=study_name(engine), storage_url=storage, task=None, settings=None, access="read"
    )
    done = completed(study.records())
    curves = load_curves(study.engine, [r.trial_id for r in done.values()])
    results = EngineResults({}, {}, {}, {})
    for cell, record in done.items():
        assert record.value is not None
        results.test[cell] = record.value
        results.train[cell] = float(record.user_attrs["train_accuracy"])
        results.test_loss[cell] = float(record.user_attrs["test_loss"])
        if record.trial_id in curves:
            epochs, c = curves[record.trial_id]
            results.curves[cell] = (epochs, np.asarray(c.test_metric, dtype=float))
    return results


def _values(mapping: dict[Cell, float], group: Group) -> list[float]:
    return [v for cell, v in sorted(mapping.items()) if cell.group == group]


def _ci(interval: Interval, n: int) -> str:
    return f"{interval.mean:.4f} [{interval.low:.4f}, {interval.high:.4f}] (n={n})"


def welch_ci(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> Interval:
    """Difference of means a - b with a Welch t confidence interval."""
    from scipy import stats

    x, y = np.asarray(a, float), np.asarray(b, float)
    va, vb = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    diff = float(x.mean() - y.mean())
    se = math.sqrt(va + vb)
    if se == 0:
        return Interval(diff, 0.0, diff, diff)
    dof = (va + vb) ** 2 / (va**2 / (x.size - 1) + vb**2 / (y.size - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, dof)) * se
    return Interval(diff, se, diff - half, diff + half)


def mann_whitney(a: Sequence[float], b: Sequence[float]) -> float:
    from scipy import stats

    if np.ptp(np.r_[a, b]) == 0:
        return 1.0
    return float(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)


def compare(pop: EngineResults, ker: EngineResults, seeds: int) -> bool:
    """Print the comparison; True when both configurations are complete and agree."""
    agree_all = True
    for group in CONFIGURATIONS:
        p_test, k_test = _values(pop.test, group), _values(ker.test, group)
        print(f"\n== {LABELS[group]} ({group.label})")
        if len(p_test) < 2 or len(k_test) < 2:
            print(f"   not enough completed trials: population {len(p_test)}, keras {len(k_test)}")
            agree_all = False
            continue
        if min(len(p_test), len(k_test)) < seeds:
            print(f"   partial: {seeds} seeds wanted (population {len(p_test)}, "
                  f"keras {len(k_test)} complete); no verdict")
            agree_all = False
        t_train, t_test = TUTORIAL[group]
        print(f"   tutorial (one run):   train {t_train:.3f}  test {t_test:.3f}")
        for name, res, values in (("population", pop, p_test), ("keras", ker, k_test)):
            test = mean_ci(values)
            train = mean_ci(_values(res.train, group))
            loss = mean_ci(_values(res.test_loss, group))
            print(f"   {name:<11} test accuracy {_ci(test, len(values))}; "
                  f"train {train.mean:.4f}; test loss {loss.mean:.4f}; "
                  f"std {test.std:.4f}; range {min(values):.3f}-{max(values):.3f}")
        diff = welch_ci(p_test, k_test)
        p = mann_whitney(p_test, k_test)
        agree = p >= ALPHA and abs(diff.mean) <= MAX_MEAN_DIFFERENCE
        agree_all = agree_all and agree
        print(f"   population - keras: {diff.mean:+.4f} (Welch 95% CI {diff.low:+.4f} to "
              f"{diff.high:+.4f}); Mann-Whitney U p = {p:.3g} -> "
              f"{'agree' if agree else 'DIFFER'} (criterion p >= {ALPHA}, |diff| <= "
              f"{MAX_MEAN_DIFFERENCE})")
        _checkpoints(pop, ker, group)
        if group.is_baseline:
            _seed_by_seed(pop, ker, group)
    return agree_all


def _curve_at(res: EngineResults, group: Group, epoch: int) -> float:
    values = []
    for cell, (epochs, acc) in res.curves.items():
        if cell.group == group:
            values.append(float(np.interp(epoch, epochs, acc)))
    return float(np.mean(values)) if values else math.nan


def _checkpoints(pop: EngineResults, ker: EngineResults, group: Group) -> None:
    cells = " ".join(f"{e:>6}" for e in CHECKPOINTS)
    print(f"   mean test accuracy at epoch      {cells}")
    for name, res in (("population", pop), ("keras", ker)):
        row = " ".join(f"{_curve_at(res, group, e):6.3f}" for e in CHECKPOINTS)
        print(f"     {name:<28} {row}")


def _seed_by_seed(pop: EngineResults, ker: EngineResults, group: Group) -> None:
    seeds = sorted(c for c in pop.test if c.group == group and c in ker.test)
    same = sum(pop.test[c] == ker.test[c] for c in seeds)
    gaps = [abs(pop.test[c] - ker.test[c]) * TEST_POINTS for c in seeds]
    print(f"   seed by seed: final test accuracy identical for {same} of {len(seeds)} seeds; "
          f"largest gap {max(gaps):.0f} of {TEST_POINTS} test points")
    loss_gaps = [abs(pop.test_loss[c] - ker.test_loss[c]) / ker.test_loss[c] for c in seeds]
    print(f"   final test loss: relative gap median {np.median(loss_gaps):.2%}, "
          f"largest {max(loss_gaps):.2%}")
    diverged = []
    for c in seeds:
        if c in pop.curves and c in ker.curves:
            (_, a), (_, b) = pop.curves[c], ker.curves[c]
            diverged.append(float(np.mean(np.abs(a - b) > 1e-6)))
    if diverged:
        print(f"   along the stored curves: test accuracy differs on "
              f"{np.mean(diverged) * 100:.1f}% of points on average "
              f"(worst seed {max(diverged) * 100:.1f}%)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", default=DEFAULT_STORAGE)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=4000)
    parser.add_argument("--keras-workers", type=int, default=2)
    parser.add_argument("--compare-only", action="store_true")
    args = parser.parse_args()
    if not args.compare_only:
        if args.storage == DEFAULT_STORAGE:
            Path("benchmarks/results").mkdir(parents=True, exist_ok=True)
        for engine in ENGINES:
            run(engine, args)
    try:
        results = load("population", args.storage), load("keras", args.storage)
    except SweepError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    agree = compare(*results, args.seeds)
    print("\nverdict:", "the engines agree on both configurations" if agree else "NOT shown")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
