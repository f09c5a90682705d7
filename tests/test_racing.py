"""The racing core against hand-computed cases: the seed schedule, elimination (paired t-test,
Holm over the look's comparisons, alpha spent over the planned rounds), ties within the
margin, either direction, and replaying a race from stored values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sweep.grid import Group
from sweep.racing import RaceSettings, look, replay, seed_schedule

BASE = Group(0.0, "none", None)
HIDDEN = Group(0.4, "hidden", None)
INPUT = Group(0.6, "input", None)


def by_seed(values: list[float]) -> dict[int, float]:
    return dict(enumerate(values))


def test_the_schedule_doubles_up_to_max_seeds() -> None:
    assert seed_schedule(5, 50) == (5, 10, 20, 40, 50)
    assert seed_schedule(5, 5) == (5,)
    assert seed_schedule(3, 12) == (3, 6, 12)
    settings = RaceSettings(n0=5, max_seeds=50, alpha=0.05)
    assert settings.look_alpha == pytest.approx(0.01)  # 0.05 over 5 planned looks
    with pytest.raises(ValueError):
        seed_schedule(5, 4)


def test_a_clearly_worse_group_is_eliminated_against_the_best() -> None:
    best = [0.80, 0.81, 0.79, 0.80, 0.82]
    worse = [0.70, 0.70, 0.70, 0.69, 0.72]
    values = {HIDDEN: by_seed(best), INPUT: by_seed(worse)}
    result = look(values, [HIDDEN, INPUT], 5, RaceSettings(), 0)
    diffs = np.array(worse) - np.array(best)  # by hand: t = mean / (sd / sqrt(n))
    t = diffs.mean() / (diffs.std(ddof=1) / math.sqrt(5))
    p = 2 * stats.t.sf(abs(t), 4)
    assert result.best == HIDDEN
    [versus] = result.eliminated
    assert versus.group == INPUT and versus.against == HIDDEN
    assert versus.p == pytest.approx(p) and versus.p_holm == pytest.approx(p)  # m = 1
    assert versus.difference.mean == pytest.approx(diffs.mean())
    assert p < 0.01


def test_holm_and_the_looks_alpha_keep_a_borderline_group() -> None:
    """Two comparisons (Holm, m = 2: the smaller p doubled, the larger kept if bigger) at a
    look of a race planned over two looks (alpha 0.05 / 2 = 0.025 per look)."""
    best = [0.80, 0.82, 0.78, 0.81, 0.79, 0.80]
    close = [b - d for b, d in zip(best, [0.010, 0.030, 0.0, 0.020, 0.015, 0.005], strict=True)]
    far = [b - d for b, d in zip(best, [0.10, 0.11, 0.09, 0.10, 0.12, 0.10], strict=True)]
    values = {HIDDEN: by_seed(best), BASE: by_seed(close), INPUT: by_seed(far)}
    settings = RaceSettings(n0=6, max_seeds=12, alpha=0.05, margin=0.001)
    assert settings.look_alpha == pytest.approx(0.025)
    result = look(values, [HIDDEN, BASE, INPUT], 6, settings, 0)

    def p_of(values_of: list[float]) -> float:
        diffs = np.array(values_of) - np.array(best)
        return float(stats.ttest_1samp(diffs, 0.0).pvalue)

    p_close, p_far = p_of(close), p_of(far)
    assert p_far < p_close < 0.05  # raw: both below 0.05
    versus = {v.group: v for v in (*result.eliminated, *result.undecided)}
    assert versus[INPUT].p_holm == pytest.approx(2 * p_far)
    assert versus[BASE].p_holm == pytest.approx(max(p_close, 2 * p_far))
    assert versus[BASE].p_holm > 0.025
    assert [v.group for v in result.eliminated] == [INPUT]
    assert [v.group for v in result.undecided] == [BASE]


def test_identical_groups_are_ties_and_end_the_race() -> None:
    """Max-norm that never binds gives the same numbers: a tie, not an endless race."""
    same = [0.79, 0.80, 0.78, 0.81, 0.80]
    other = Group(0.4, "hidden", 5.0)
    values = {HIDDEN: by_seed(same), other: by_seed(same)}
    state = replay(values, [HIDDEN, other], RaceSettings())
    assert state.ended == "equivalent" and state.next_seeds is None
    assert state.ties == (other,) and state.best == HIDDEN
    [versus] = state.looks[0].tied
    assert (versus.equivalence.low, versus.equivalence.high) == (0.0, 0.0)


def test_lower_is_better_when_minimizing() -> None:
    values = {HIDDEN: by_seed([0.30, 0.31, 0.29, 0.30, 0.32]),
              INPUT: by_seed([0.20, 0.21, 0.20, 0.19, 0.21])}
    result = look(values, [HIDDEN, INPUT], 5, RaceSettings(maximize=False), 0)
    assert result.best == INPUT and [v.group for v in result.eliminated] == [HIDDEN]


def test_replay_asks_for_the_next_round_and_waits_for_it() -> None:
    rng = np.random.default_rng(0)
    noise = {g: rng.normal(0, 0.01, 50) for g in (BASE, HIDDEN, INPUT)}
    truth = {BASE: 0.770, HIDDEN: 0.772, INPUT: 0.486}
    full = {g: by_seed((truth[g] + noise[g]).tolist()) for g in truth}
    first = {g: {s: v for s, v in full[g].items() if s < 5} for g in full}
    state = replay(first, list(full), RaceSettings())
    assert len(state.looks) == 1 and state.next_seeds == 10
    assert INPUT not in state.racing and set(state.racing) == {BASE, HIDDEN}
    # the second round's cells arrive for one group only: the look waits
    partial = {**first, HIDDEN: {s: v for s, v in full[HIDDEN].items() if s < 10}}
    assert replay(partial, list(full), RaceSettings()).next_seeds == 10
    # with every seed, the two close groups race to max_seeds undecided (0.002 apart, sd 0.014)
    end = replay(full, list(full), RaceSettings())
    assert [look.seeds for look in end.looks] == [5, 10, 20, 40, 50]
    assert end.ended == "max_seeds" and end.next_seeds is None


def test_copies_of_a_group_that_is_not_the_best_race_once() -> None:
    """Two groups giving the same numbers (a max-norm that never binds), neither the best:
    the second is tied with the first and stops; the first races on for both."""
    best = [0.80, 0.82, 0.79, 0.81, 0.80]
    middle = [0.79, 0.80, 0.80, 0.80, 0.79]
    copy = Group(0.4, "hidden", 3.0)
    values = {INPUT: by_seed(best), HIDDEN: by_seed(middle), copy: by_seed(middle)}
    result = look(values, [INPUT, HIDDEN, copy], 5, RaceSettings(), 0)
    assert result.best == INPUT and not result.eliminated
    [tie] = result.tied
    assert tie.group == copy and tie.against == HIDDEN
    assert (tie.equivalence.low, tie.equivalence.high) == (0.0, 0.0)
    assert [v.group for v in result.undecided] == [HIDDEN]


def test_a_close_group_is_a_tie_only_when_its_interval_is_inside_the_margin() -> None:
    """Paired differences of +-0.001 around 0, one planned look (alpha 0.05), one pair: the
    two one-sided tests' CI has level 1 - 2 * 0.05 = 0.90 (t quantile by hand); with margin
    0.01 it lies inside, with margin 0.0005 it does not."""
    best = [0.80, 0.82, 0.79, 0.81, 0.80, 0.78]
    offsets = [0.001, -0.001, 0.001, -0.001, 0.001, -0.001]
    close = [b - d for b, d in zip(best, offsets, strict=True)]
    values = {HIDDEN: by_seed(best), BASE: by_seed(close)}
    diffs = np.array(close) - np.array(best)
    half = stats.t.ppf(0.95, 5) * diffs.std(ddof=1) / math.sqrt(6)
    assert abs(diffs.mean()) + half < 0.01
    wide = look(values, [HIDDEN, BASE], 6, RaceSettings(n0=6, max_seeds=6, margin=0.01), 0)
    assert [v.group for v in wide.tied] == [BASE]
    assert wide.tied[0].equivalence.high == pytest.approx(diffs.mean() + half)
    narrow = look(values, [HIDDEN, BASE], 6, RaceSettings(n0=6, max_seeds=6, margin=0.0005), 0)
    assert not narrow.tied and [v.group for v in narrow.undecided] == [BASE]
