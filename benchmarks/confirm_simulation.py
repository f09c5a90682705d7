"""Confirmation on fresh seeds validated by simulation: its error rate, its power, and the
winner's curse it removes, on groups like the circles grid.

The simulated groups are the default tutorial study's own (168 groups, measured from a completed
``studies/tutorial.db`` by :func:`racing_simulation.measure`: means, spreads over seeds,
identical clusters, the seeds' correlation, quantised to the test set's 70 points). Each
simulated sweep:

1. draws the fixed design's 10 seeds for every group and picks, as ``sweep`` does
   (:func:`sweep.confirming.pick`), the dropout group with the best mean and the no-dropout
   group with its max-norm; the selection stage's verdict is the paired test of that group
   against its baseline, Holm-corrected over every group compared (the report's);
2. draws ``--confirm`` fresh seeds for those two groups only and tests them once (paired
   t-test, alpha 0.05, no multiplicity): the confirmation's verdict.

Measured over ``--sweeps`` sweeps: how often each stage says "dropout beats the baseline"
(power), how often it gives a wrong answer (says "beats" although the picked group is not
better in truth, or "worse" although it is not worse), and the mean error of each stage's
estimate of the picked group's gain over its baseline (the winner's curse: the selection
stage's is biased upward by the choice, the fresh seeds' is not).

With ``--null`` every no-dropout group's mean is raised to the best dropout group's
(:func:`racing_simulation.null_model`): dropout truly does not help, so every "beats" is a
wrong answer, and the confirmation's rate of them must stay within alpha.

    python benchmarks/confirm_simulation.py [--sweeps 2000] [--confirm 30] [--null]
                                            [--study tutorial] [--storage URL]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from racing_simulation import _rate, baseline_of, measure, null_model  # noqa: E402

from sweep.stats import ALPHA, holm, paired_test  # noqa: E402

SELECTION_SEEDS = 10


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sweeps", type=int, default=2000)
    parser.add_argument("--confirm", type=int, default=30)
    parser.add_argument("--study", default="tutorial")
    parser.add_argument("--storage")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--null", action="store_true", help=(
        "no dropout as good as the best dropout group in truth: any 'beats' is wrong"))
    args = parser.parse_args(argv)
    model = measure(args.study, args.storage)
    if args.null:
        model = null_model(model)
    rng = np.random.default_rng(args.seed)
    index = {g: i for i, g in enumerate(model.groups)}
    dropout = [g for g in model.groups if not g.is_baseline]
    says = {"selection": 0, "confirmation": 0}
    wrong = {"selection": 0, "confirmation": 0}
    error = {"selection": 0.0, "confirmation": 0.0}
    for _ in range(args.sweeps):
        draws = model.draw(rng, SELECTION_SEEDS)
        means = draws.mean(axis=1)
        picked = max(dropout, key=lambda g: means[index[g]])  # first of equal means: grid order
        base = baseline_of(picked)
        gain = float(model.mean[index[picked]] - model.mean[index[base]])
        p_values, diffs = [], {}
        for group in dropout:
            mine, theirs = draws[index[group]], draws[index[baseline_of(group)]]
            _, diff, _, p = paired_test(dict(enumerate(mine)), dict(enumerate(theirs)))
            p_values.append(p)
            diffs[group] = (diff.mean, p)
        adjusted = dict(zip(dropout, holm(p_values), strict=True))
        fresh = model.draw(rng, args.confirm)
        _, diff, _, p = paired_test(dict(enumerate(fresh[index[picked]])),
                                    dict(enumerate(fresh[index[base]])))
        for stage, (estimate, p_stage) in {
                "selection": (diffs[picked][0], adjusted[picked]),
                "confirmation": (diff.mean, p)}.items():
            beats, worse = p_stage < ALPHA and estimate > 0, p_stage < ALPHA and estimate < 0
            says[stage] += beats
            wrong[stage] += (beats and gain <= 0) or (worse and gain >= 0)
            error[stage] += estimate - gain
    n = args.sweeps
    print(f"{n} simulated sweeps: {SELECTION_SEEDS} seeds x {len(model.groups)} groups, then "
          f"{args.confirm} fresh seeds for the picked group and its baseline"
          + (" (null: dropout does not help)" if args.null else ""))
    for stage in ("selection", "confirmation"):
        print(f"{stage}: says dropout beats the baseline {says[stage] / n:.3f}; wrong answers "
              f"{_rate(wrong[stage], n)} (alpha {ALPHA}); mean error of the gain estimate "
              f"{error[stage] / n:+.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
