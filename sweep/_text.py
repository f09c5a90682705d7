"""Plain-text tables for the terminal."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .summary import GroupStats, Interval


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
