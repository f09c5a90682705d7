"""Failed cells with their reasons, as each surface shows them: a report note, ``status``
lines, JSON objects and an HTML section.

A reason is the trial's ``fail_reason`` (e.g. "FloatingPointError: the training loss became nan
at epoch 3"); sentences and lines show its first line, cut at :data:`REASON_CHARS`; JSON keeps
it whole. The cells come in the summary's order (by cell key).
"""

from __future__ import annotations

import html
from typing import Any

from .summary import SweepSummary

NOTE_LISTED = 3
"""Failed cells named in the report's note (the HTML report's section lists more)."""
LINES_LISTED = 10
"""Failed cells listed by ``sweep status`` (``status --json`` lists them all)."""
SECTION_LISTED = 200
REASON_CHARS = 200


def short_reason(reason: str) -> str:
    """The reason's first non-empty line, cut to :data:`REASON_CHARS` characters."""
    line = next((part.strip() for part in reason.splitlines() if part.strip()), "")
    line = line or "no reason recorded"
    return line if len(line) <= REASON_CHARS else line[: REASON_CHARS - 3].rstrip() + "..."


def _more(summary: SweepSummary, listed: int) -> int:
    return max(0, len(summary.failures) - listed)


def failures_note(summary: SweepSummary, limit: int = NOTE_LISTED) -> str | None:
    """One sentence naming the first failed cells and their reasons; None without any."""
    if not summary.failures:
        return None
    items = [f"{cell.key}: {short_reason(reason)}" for cell, reason in summary.failures[:limit]]
    more = _more(summary, limit)
    tail = f"; and {more} more" if more else ""
    return (f"{len(summary.failures)} cell(s) failed (the next run retries them): "
            + "; ".join(items) + tail + ".")


def failure_lines(summary: SweepSummary, limit: int = LINES_LISTED) -> list[str]:
    """``status``'s lines: a count, then one indented ``cell: reason`` line per failed cell."""
    if not summary.failures:
        return []
    lines = [f"failed cells ({len(summary.failures)}), with their fail_reason:"]
    lines += [f"  {cell.key}: {short_reason(reason)}"
              for cell, reason in summary.failures[:limit]]
    more = _more(summary, limit)
    if more:
        lines.append(f"  and {more} more ('sweep status --json' lists them all)")
    return lines


def failures_json(summary: SweepSummary) -> list[dict[str, Any]]:
    """Every failed cell: ``{"cell": key, "reason": fail_reason}`` (the reason whole)."""
    return [{"cell": cell.key, "reason": reason} for cell, reason in summary.failures]


def failures_html(summary: SweepSummary, limit: int = SECTION_LISTED) -> str:
    """The report's section of failed cells (escaped); empty without any."""
    if not summary.failures:
        return ""
    esc = html.escape
    rows = "".join(f'<tr><td class="l"><code>{esc(cell.key)}</code></td>'
                   f'<td class="l reason">{esc(short_reason(reason))}</td></tr>'
                   for cell, reason in summary.failures[:limit])
    more = _more(summary, limit)
    tail = f'<p class="caption">And {more} more.</p>' if more else ""
    return (f'<section id="section-failures"><h2>Failed cells ({len(summary.failures)})</h2>'
            '<p class="caption">Their fail_reason (first line); the next run retries them. '
            'Failed cells are left out of every statistic above.</p>'
            '<div class="table-wrap"><table id="failures"><thead><tr><th class="l">cell</th>'
            f'<th class="l">reason</th></tr></thead><tbody>{rows}</tbody></table></div>{tail}'
            "</section>")
