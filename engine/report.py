"""Human-readable renderings of findings (terminal tables). JSON is `Findings.to_json_dict`."""
from __future__ import annotations

from collections import defaultdict

from rich.console import Console
from rich.table import Table

from engine.findings import Findings
from engine.ruleset import Ruleset
from facts.timeutil import format_instant

LEVELS = ("supervision_notice", "public_criticism", "one_vote_veto")


def _short(us: int | None) -> str:
    text = format_instant(us)
    return text[:16].replace("T", " ") if text else "—"


def render_table(findings: Findings, ruleset: Ruleset, console: Console, lang: str = "en") -> None:
    """Per unit: what is overdue and how it escalated — who must be chased, at a glance."""
    s = findings.summary
    console.print(f"[bold]{ruleset.name}[/bold] as of {format_instant(findings.as_of)}: "
                  f"{s.events} events ({s.duplicates} duplicate, {s.rejected} rejected, "
                  f"{s.before_effective} before effective, {s.after_as_of} after as-of); "
                  f"{s.obligations} obligations ({s.open} open, {s.fulfilled} fulfilled, "
                  f"{s.fulfilled_late} late, {s.overdue} overdue), {s.violations} violations, "
                  f"{s.escalations} escalations")
    per_unit: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for o in findings.obligations:
        per_unit[o.duty_bearer][o.status] += 1
    for v in findings.violations:
        per_unit[v.unit]["violations"] += 1
    for e in findings.escalations:
        per_unit[e.unit][e.level] += 1
    wide = console.width >= 120
    table = Table(title="By unit", show_lines=False)
    for col in ("unit", "name", "overdue", "open", "late", "violations", "notices", "criticism", "veto"):
        if col == "name" and not wide:
            continue
        table.add_column(col, justify="left" if col in ("unit", "name") else "right", no_wrap=True)
    order = sorted(per_unit, key=lambda u: (-per_unit[u]["overdue"], -per_unit[u]["one_vote_veto"], u))
    for unit in order:
        row = per_unit[unit]
        if not (row["overdue"] or row["violations"] or row["open"] or row["fulfilled_late"]):
            continue
        counts = [str(row[k]) for k in ("overdue", "open", "fulfilled_late", "violations", "supervision_notice",
                                         "public_criticism", "one_vote_veto")]
        table.add_row(unit, *([ruleset.units.label(unit, lang)] if wide else []), *counts)
    console.print(table)

    overdue = [o for o in findings.obligations if o.status == "overdue"]
    if overdue:
        t = Table(title="Overdue duties")
        for col in ("unit", "art.", "action", "subject/period", "due"):
            t.add_column(col)
        for o in sorted(overdue, key=lambda o: (o.duty_bearer, o.due or 0)):
            t.add_row(o.duty_bearer, str(o.article), o.action, o.subject or o.period or "—", _short(o.due))
        console.print(t)
    if findings.escalations:
        t = Table(title="Escalations")
        for col in ("at", "level", "unit", "issued by", "art.", "period"):
            t.add_column(col)
        for e in findings.escalations:
            t.add_row(_short(e.at), e.level, e.unit, e.issued_by, str(e.article), e.period)
        console.print(t)
    if findings.rejected:
        t = Table(title="Rejected events")
        for col in ("file", "line", "id", "error"):
            t.add_column(col)
        for r in findings.rejected:
            t.add_row(r.file, str(r.line), r.id or "—", r.error)
        console.print(t)
