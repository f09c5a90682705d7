"""The race's answer to "does the best dropout group beat no dropout?", from replayed races
with known values: yes (no dropout eliminated against the best), a tie, undecided."""

from __future__ import annotations

import numpy as np
import pytest

from sweep.grid import Group
from sweep.race_answer import race_answer, race_fates
from sweep.racing import RaceSettings, replay

BASE = Group(0.0, "none", None)
BASE_3 = Group(0.0, "none", 3.0)
HIDDEN = Group(0.2, "hidden", None)
INPUT = Group(0.6, "input", None)


def _race(truth: dict[Group, float], sd: float, settings: RaceSettings,
          copies: dict[Group, Group] | None = None) -> tuple[object, object]:
    rng = np.random.default_rng(1)
    values = {g: dict(enumerate(m + sd * rng.normal(size=settings.max_seeds)))
              for g, m in truth.items()}
    for copy, original in (copies or {}).items():
        values[copy] = dict(values[original])
    groups = list(values)
    state = replay(values, groups, settings)
    return state, race_answer(state, race_fates(state, tuple(groups)))


def test_yes_when_no_dropout_is_eliminated_against_the_best() -> None:
    state, answer = _race({BASE: 0.77, HIDDEN: 0.80, INPUT: 0.49}, 0.01, RaceSettings(),
                          copies={BASE_3: BASE})
    assert state.best == HIDDEN  # type: ignore[attr-defined]
    assert answer.verdict == "yes" and answer.dropout == HIDDEN  # type: ignore[attr-defined]
    assert answer.baseline == BASE  # type: ignore[attr-defined]  (its copy was tied to it)
    assert answer.difference.mean == pytest.approx(0.03, abs=0.01)  # type: ignore[attr-defined]
    assert answer.p_holm < RaceSettings().look_alpha  # type: ignore[attr-defined]


def test_no_when_every_dropout_group_is_eliminated_against_no_dropout() -> None:
    _, answer = _race({BASE: 0.80, HIDDEN: 0.75, INPUT: 0.49}, 0.01, RaceSettings())
    assert answer.verdict == "no" and answer.baseline == BASE  # type: ignore[attr-defined]
    assert answer.dropout == HIDDEN  # type: ignore[attr-defined]  (the closest)
    assert answer.difference.mean < 0  # type: ignore[attr-defined]


def test_undecided_at_max_seeds_when_the_difference_hides_in_the_noise() -> None:
    state, answer = _race({BASE: 0.790, HIDDEN: 0.792}, 0.02,
                          RaceSettings(n0=5, max_seeds=10, margin=0.001))
    assert state.ended == "max_seeds"  # type: ignore[attr-defined]
    assert answer.verdict == "undecided"  # type: ignore[attr-defined]


def test_a_tie_when_no_dropout_gives_the_best_group_s_numbers() -> None:
    _, answer = _race({BASE: 0.80, INPUT: 0.49}, 0.01, RaceSettings(), copies={HIDDEN: BASE})
    assert answer.verdict == "tie"  # type: ignore[attr-defined]


def test_the_closest_eliminated_group_is_the_closest_by_mean_not_by_p() -> None:
    """A noisy group far below no dropout keeps a larger p than a steady group just below it;
    the answer names the steady one, the smaller loss (it used to name the larger p)."""
    rng = np.random.default_rng(3)
    settings = RaceSettings(n0=10, max_seeds=10)
    noisy = Group(0.6, "input", None)
    values = {BASE: {s: 0.80 + 0.002 * rng.normal() for s in range(10)}}
    values[HIDDEN] = {s: v - 0.01 + 0.003 * rng.normal() for s, v in values[BASE].items()}
    values[noisy] = {s: v - 0.10 + 0.05 * rng.normal() for s, v in values[BASE].items()}
    groups = list(values)
    state = replay(values, groups, settings)
    fates = race_fates(state, tuple(groups))
    assert fates[HIDDEN][0] == fates[noisy][0] == "eliminated"
    p = {g: fates[g][1].p_holm for g in (HIDDEN, noisy)}  # type: ignore[union-attr]
    assert p[noisy] > p[HIDDEN]  # what the old rule followed
    answer = race_answer(state, fates)
    assert answer.verdict == "no" and answer.dropout == HIDDEN
    assert answer.difference is not None
    assert answer.difference.mean == pytest.approx(-0.01, abs=0.003)
