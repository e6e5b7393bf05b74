"""The terminal table of `eval` and `findings`: who must be chased, at a glance, in zh or en."""
from __future__ import annotations

from collections import defaultdict

from rich.console import Console
from rich.table import Table

from engine.findings import Findings
from engine.i18n import UI, format_date
from engine.labels import labels
from engine.ruleset import Ruleset
from facts.timeutil import format_instant


def _when(us: int | None, lang: str) -> str:
    if us is None:
        return "—"
    text = format_instant(us) or ""
    return format_date(us, lang) + " " + text[11:16] if lang == "zh" else text[:16].replace("T", " ")


def render_table(findings: Findings, ruleset: Ruleset, console: Console, lang: str = "zh") -> None:
    """Per unit: what is overdue and how it escalated; then the overdue duties and the escalations."""
    t, lab, s = UI[lang], labels(ruleset, lang), findings.summary
    console.print(t["headline"].format(
        name=getattr(ruleset.header.title, lang) if lang == "zh" else ruleset.name, as_of=format_instant(findings.as_of),
        events=s.events, duplicates=s.duplicates, rejected=s.rejected, before=s.before_effective, after=s.after_as_of,
        obligations=s.obligations, open=s.open, fulfilled=s.fulfilled, late=s.fulfilled_late, overdue=s.overdue,
        violations=s.violations, escalations=s.escalations))
    per_unit: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for o in findings.obligations:
        per_unit[o.duty_bearer][o.status] += 1
    for v in findings.violations:
        per_unit[v.unit]["violations"] += 1
    for e in findings.escalations:
        per_unit[e.unit][e.level] += 1
    name = lambda code: lab["units"].get(code, code)  # noqa: E731
    table = Table(title=t["by_unit"], pad_edge=False)
    table.add_column(t["unit"], no_wrap=True, max_width=20, overflow="ellipsis")
    for key in ("overdue", "open", "late", "violations_short", "notices", "criticism", "veto"):
        table.add_column(t[key], justify="right", no_wrap=True)
    order = sorted(per_unit, key=lambda u: (-per_unit[u]["overdue"], -per_unit[u]["one_vote_veto"], u))
    for unit in order:
        row = per_unit[unit]
        if row["overdue"] or row["violations"] or row["open"] or row["fulfilled_late"]:
            table.add_row(name(unit), *(str(row[k]) for k in ("overdue", "open", "fulfilled_late", "violations",
                                                              "supervision_notice", "public_criticism", "one_vote_veto")))
    console.print(table)

    overdue = [o for o in findings.obligations if o.status == "overdue"]
    if overdue:
        tab = Table(title=t["overdue_duties"])
        for col in (t["unit"], t["article"], t["duty"], t["subject"], t["due"]):
            tab.add_column(col)
        for o in sorted(overdue, key=lambda o: (o.duty_bearer, o.due or 0)):
            tab.add_row(name(o.duty_bearer), f"{t['art_prefix']}{o.article}{t['art_suffix']}",
                        lab["actions"].get(o.action, o.action), o.subject or o.period or "—", _when(o.due, lang))
        console.print(tab)
    if findings.escalations:
        tab = Table(title=t["escalations"])
        for col in (t["at"], t["level"], t["unit"], t["issued_by"], t["article"], t["period"]):
            tab.add_column(col, no_wrap=col in (t["at"], t["level"], t["period"]))
        for e in findings.escalations:
            tab.add_row(_when(e.at, lang), lab["level"][e.level], name(e.unit), name(e.issued_by),
                        f"{t['art_prefix']}{e.article}{t['art_suffix']}", e.period)
        console.print(tab)
    if findings.rejected:
        tab = Table(title=t["rejected_events"])
        for col in (t["file"], t["line"], "id", t["error"]):
            tab.add_column(col)
        for r in findings.rejected:
            tab.add_row(r.file, str(r.line), r.id or "—", r.error)
        console.print(tab)
