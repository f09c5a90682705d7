"""Plain-text tables for the terminal."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..grid import Group
from .summary import GroupStats, Interval, SweepSummary


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def fmt_norm(max_norm: float | None) -> str:
    return "none" if max_norm is None else f"{max_norm:g}"


def fmt_ci(interval: Interval) -> str:
    if math.isnan(interval.low):
        return "n/a (n<2)"
    return f"[{interval.low:.3f}, {interval.high:.3f}]"


def group_row(stats: GroupStats) -> list[str]:
    g = stats.group
    return [f"{g.rate:g}", g.placement, fmt_norm(g.max_norm), str(stats.n),
            f"{stats.test.mean:.3f}", fmt_ci(stats.test), f"{stats.train.mean:.3f}"]


GROUP_HEADERS = ("rate", "placement", "max_norm", "n", "test mean", "95% CI", "train mean")


def best_line(stats: GroupStats | None) -> str:
    if stats is None:
        return "best: no completed cells yet"
    g = stats.group
    return (f"best: rate={g.rate:g} placement={g.placement} max_norm={fmt_norm(g.max_norm)}: "
            f"test accuracy mean {stats.test.mean:.3f}, 95% CI {fmt_ci(stats.test)}, n={stats.n}")


CLOSING_TOP = 5


def closing_groups(
    summary: SweepSummary, reference: Group | None, top: int = CLOSING_TOP
) -> list[GroupStats]:
    """What ``run`` ends with: the ``top`` best groups, the best group's no-dropout baseline,
    the plain baseline and the task's reference group (each once, best first)."""
    from .summary import baseline_group

    wanted = list(summary.ranked[:top])
    best = summary.best
    extra = [baseline_group(None), reference]
    if best is not None:
        extra.insert(0, baseline_group(best.group.max_norm))
    for group in extra:
        stats = None if group is None else summary.get(group)
        if stats is not None and stats not in wanted:
            wanted.append(stats)
    order = {stats.group: rank for rank, stats in enumerate(summary.ranked)}
    return sorted(wanted, key=lambda stats: order[stats.group])
