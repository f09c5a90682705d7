"""What a race decided, from its stored trials: rounds, each group's fate, the answer to "does
the best dropout group beat no dropout?", and the cells it used against a fixed design.

Compute (:func:`sweep.race_answer.race_report`: plain data, replayed by
:func:`sweep.rounds.race_state`, once per reading of a study), then render (:func:`race_lines`
for the terminal and the report's text, :func:`race_html` for the report's section): this
module holds the rendering only.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from ..grid import Group
from ..race_answer import RaceReport, round_of
from .text import fmt_ci, fmt_norm, group_label, p_phrase

if TYPE_CHECKING:
    from ..objective import Objective
    from ..tasks import Task


def settings_line(report: RaceReport, objective: Objective) -> str:
    s = report.settings
    looks = len(s.schedule)
    return (f"Race over seeds (--seeds auto): every group starts with {s.n0} seeds, racing "
            f"groups double them up to {s.max_seeds} ({looks} looks); a group worse than the "
            f"look's best by a paired t-test, Holm-corrected over the look's comparisons, at "
            f"alpha {s.alpha:g} / {looks} looks = {s.look_alpha:.4g}, is eliminated; groups "
            f"within +-{s.margin:g} {objective.label} of each other (paired CI) are ties.")


def answer_line(report: RaceReport, task: Task, objective: Objective) -> str:
    a = report.answer
    question = "Does the best dropout group beat no dropout?"
    if a.verdict == "pending":
        return f"{question} Not yet: the race is in round {len(report.state.looks) + 1}."
    numbers = ""
    if a.difference is not None:
        numbers = (f" (difference {a.difference.mean:+.3f} {objective.label}, "
                   f"{fmt_ci(a.difference, signed=True)}, Holm {p_phrase(a.p_holm)}"
                   + (f", round {a.round}" if a.round else "") + ")")
    dropout = "" if a.dropout is None else group_label(a.dropout, task)
    baseline = "" if a.baseline is None else group_label(a.baseline, task)
    if a.verdict == "yes":
        return (f"{question} Yes: {dropout} beats {baseline} beyond seed noise{numbers}.")
    if a.verdict == "no":
        return (f"{question} No: {baseline} is best; every dropout group was eliminated "
                f"against it or tied, the closest being {dropout}{numbers}.")
    if a.verdict == "tie":
        return (f"{question} A tie: {dropout} and {baseline} are equivalent within "
                f"+-{report.settings.margin:g}{numbers}.")
    return (f"{question} Undecided at {report.settings.max_seeds} seeds: {dropout} against "
            f"{baseline}{numbers}; raise --max-seeds or widen --margin to decide it.")


def race_lines(report: RaceReport, task: Task, objective: Objective) -> list[str]:
    """The race in a few lines: rounds, how it ended, the answer, cells used."""
    lines = [settings_line(report, objective)]
    for look in report.state.looks:
        over = look is report.state.looks[-1] and report.state.next_seeds is None
        left = (f"{len(look.undecided)} undecided" if over
                else f"{len(look.undecided) + 1} go on")
        lines.append(f"round {look.round + 1} ({look.seeds} seeds, {len(look.racing)} groups "
                     f"racing): {len(look.eliminated)} eliminated, {len(look.tied)} tied, {left}")
    state = report.state
    if state.next_seeds is not None:
        lines.append(f"round {len(state.looks) + 1} runs: {len(state.racing)} groups to "
                     f"{state.next_seeds} seeds")
    elif state.best is not None:
        best = state.best
        ties = [g for g, (fate, v) in report.fates.items()
                if fate == "tied" and v is not None and v.against == best]
        ended = {"separated": "with one group left, every other eliminated or tied",
                 "equivalent": "with one group left, every other eliminated or tied",
                 "max_seeds": f"at {report.settings.max_seeds} seeds"}[state.ended]
        lines.append(f"The race ended {ended}. Best: {group_label(best, task)}"
                     + (f", tied with {len(ties)} group(s) giving the same results within the "
                        "margin" if ties else "") + ".")
    lines.append(answer_line(report, task, objective))
    lines.append(f"Cells: {report.cells_used:,} raced; a fixed design with the same seeds for "
                 f"every group ({report.fixed_cells // max(1, len(report.groups))}) would "
                 f"train {report.fixed_cells:,}.")
    return lines


def _fate_text(group: Group, report: RaceReport, task: Task) -> str:
    fate, versus = report.fates[group]
    if versus is None:
        return {"best": "best", "racing": "racing"}.get(fate, fate)
    round_ = round_of(versus, report.state)
    against = group_label(versus.against, task)
    if fate == "eliminated":
        return (f"eliminated in round {round_} against {against}: "
                f"{fmt_ci(versus.difference, signed=True)}, Holm {p_phrase(versus.p_holm)}")
    if fate == "tied":
        return f"tied with {against} in round {round_}: {fmt_ci(versus.equivalence, signed=True)}"
    return (f"{fate} against {against}: {fmt_ci(versus.difference, signed=True)}, Holm "
            f"{p_phrase(versus.p_holm)}")


def short_fate(group: Group, report: RaceReport) -> str:
    """A group's fate in a table cell: ``eliminated r2 vs 0.2/hidden/1 p=0.003`` (the
    round, the group it lost to, the Holm-corrected p)."""
    fate, versus = report.fates[group]
    if versus is None:
        return fate
    other = versus.against
    against = f"{other.rate:g}/{other.placement}/{fmt_norm(other.max_norm)}"
    round_ = round_of(versus, report.state)
    if fate == "tied":
        return f"tied r{round_} with {against}"
    word = "eliminated" if fate == "eliminated" else fate
    return f"{word} r{round_} vs {against} {p_phrase(versus.p_holm).replace(' ', '')}"


def race_headline(report: RaceReport, task: Task, objective: Objective) -> tuple[str, str]:
    """The report's headline for a race: its colour (``better``: dropout beats no dropout,
    ``worse``, ``neutral``) and the race's answer."""
    kind = {"yes": "better", "no": "worse"}.get(report.answer.verdict, "neutral")
    return kind, answer_line(report, task, objective)


def race_html(report: RaceReport, task: Task, objective: Objective) -> str:
    esc = html.escape
    lines = "".join(f'<p class="status">{esc(line)}</p>'
                    for line in race_lines(report, task, objective))
    order = {"best": 0, "racing": 1, "undecided": 2, "tied": 3, "eliminated": 4}
    rows = sorted(report.groups, key=lambda g: (order[report.fates[g][0]], -report.seeds[g]))
    body = "".join(
        f'<tr class="{"best" if report.fates[g][0] == "best" else ""}">'
        f'<td class="l">{esc(group_label(g, task))}</td><td>{report.seeds[g]}</td>'
        f'<td class="l reason">{esc(_fate_text(g, report, task))}</td></tr>' for g in rows)
    return ('<section id="section-race"><h2>The race over seeds</h2>' + lines +
            '<div class="table-wrap"><table id="race"><thead><tr><th class="l">group</th>'
            '<th>seeds</th><th class="l">decision (difference from the group named, paired '
            f"over seeds)</th></tr></thead><tbody>{body}</tbody></table></div></section>")

