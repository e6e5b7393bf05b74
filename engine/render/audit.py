"""Audit renderings: JSON (SPEC §4 + units), CSV (one row per obligation), terminal matrix, HTML.

Every human format says how firm an escalation is: a proposed public criticism or veto (the
engine's recommendation to the political-legal committee) never reads like a determined one.
"""
from __future__ import annotations

import csv
import io
import json
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

from oblige.engine.audit.records import AuditSpec, load_audit_spec
from oblige.engine.audit.summary import Column, levels_reached, matrix, unit_summary
from oblige.engine.core.findings import Findings
from oblige.engine.render.i18n import UI, article_label, format_date
from oblige.engine.render.labels import (
    BASES,
    LEVELS,
    STATUSES,
    add_labels,
    basis_note,
    escalation_label,
    labels,
    unit_name,
)
from oblige.engine.render.table import by_basis, escalation_counts
from oblige.engine.render.table import when_text as when
from oblige.engine.rules.ruleset import Ruleset
from oblige.facts.timeutil import format_instant

SHOWN_STATUSES = ("fulfilled", "fulfilled_late", "overdue", "open", "discharged")
assert set(SHOWN_STATUSES) == set(STATUSES)
SYMBOL = {"fulfilled": "[green]✓[/green]", "fulfilled_late": "[yellow]![/yellow]", "overdue": "[bold red]✗[/bold red]",
          "open": "[blue]·[/blue]", "discharged": "[dim]○[/dim]"}


def duty_titles(ruleset: Ruleset, lang: str) -> dict[str, str]:
    """action -> title (the first rule's title for an action shared by several rules)."""
    return labels(ruleset, lang)["actions"]


def audit_json(findings: Findings, ruleset: Ruleset, lang: str | None = None) -> str:
    """SPEC §4 document plus `units`; with `lang`, plus the `labels` object."""
    doc = findings.to_json_dict()
    doc["units"] = unit_summary(findings, ruleset)
    if lang:
        add_labels(doc, ruleset, lang)
    return json.dumps(doc, ensure_ascii=False, indent=1)


def audit_csv(findings: Findings, ruleset: Ruleset, lang: str, excel: bool = False) -> str:
    """One row per obligation: codes for machines, labels in `lang` beside them for people."""
    reached = levels_reached(findings)
    lab = labels(ruleset, lang)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["unit", "unit_name", "action", "duty", "article", "period", "subject", "due", "status",
                     "status_label", "fulfilled_at", "escalations", "escalations_label"])
    titles = lab["actions"]
    for o in findings.obligations:
        steps = reached.get(o.id, [])
        writer.writerow([o.duty_bearer, unit_name(ruleset, o.duty_bearer, lang), o.action, titles.get(o.action, o.action),
                         o.article, o.period or "", o.subject or "", format_instant(o.due) or "", o.status,
                         lab["status"].get(o.status, o.status), format_instant(o.fulfilled_at) or "",
                         " ".join(f"{level}:{basis}" for level, basis in steps),
                         "; ".join(escalation_label(lab, level, basis, lang) for level, basis in steps)])
    return ("\ufeff" if excel else "") + out.getvalue()


def audit_table(findings: Findings, ruleset: Ruleset, console: Console, lang: str, spec: AuditSpec | None = None) -> None:
    spec = spec or load_audit_spec(ruleset)
    m = matrix(findings, ruleset, spec)
    summary = unit_summary(findings, ruleset)
    lab, t = labels(ruleset, lang), UI[lang]
    console.print(f"[bold]{getattr(spec.title, lang)}[/bold] — {getattr(ruleset.header.title, lang)} — "
                  f"{t['as_of']} {when(findings.as_of, lang)}")
    console.print("  ".join(f"{SYMBOL[s]} {lab['status'][s]}" for s in SHOWN_STATUSES))
    titles = duty_titles(ruleset, lang)
    console.print("  ".join(f"{code}={titles.get(action, action)}" for action, code in spec.short.items()))
    for year in m.years:
        table = Table(title=f"{t['matrix']} {year}", show_lines=False, pad_edge=False, collapse_padding=True)
        table.add_column(t["unit"], no_wrap=True, max_width=22)
        for col in m.columns[year]:
            name = col.period[5:] if col.period and "-Q" in col.period else spec.short.get(col.action, col.action)
            table.add_column(name, justify="center", no_wrap=True, min_width=3)
        for code in m.units:
            row = [unit_name(ruleset, code, lang)]
            for col in m.columns[year]:
                o = m.cells.get((code, col.action, col.period))
                row.append(SYMBOL[o.status] if o else "")
            table.add_row(*row)
        console.print(table)
    counts = escalation_counts(findings)
    rows = [(unit_name(ruleset, code, lang), *(by_basis(counts[code], lv, lab, lang, "\n") for lv in LEVELS),
             str(summary[code]["violations"]), str(summary[code]["discharged"]))
            for code in m.units
            if summary[code]["violations"] or any(summary[code]["escalations"].values()) or summary[code]["discharged"]]
    esc = Table(title=t["escalations"], caption=basis_note(ruleset, lang))
    esc.add_column(t["unit"], no_wrap=True, max_width=22)
    for i, lv in enumerate(LEVELS, start=1):
        # a count and its basis are never cut (one basis a line): the column is as wide as its widest line
        esc.add_column(lab["level"][lv], min_width=max([cell_len(x) for r in rows for x in r[i].splitlines()] + [4]))
    for header in (t["violations_short"], lab["status"]["discharged"]):
        esc.add_column(header, overflow="fold")
    for cells in rows:
        esc.add_row(*cells)
    console.print(esc)


def audit_html(findings: Findings, ruleset: Ruleset, lang: str, spec: AuditSpec | None = None) -> str:
    spec = spec or load_audit_spec(ruleset)
    env = Environment(loader=PackageLoader("oblige.engine.render", "templates"), autoescape=select_autoescape(["html", "j2"]))
    template = env.get_template("audit.html.j2")
    lab = labels(ruleset, lang)
    titles = lab["actions"]
    rule_titles = lab["rules"]
    clauses = {w.rule.id: w.rule.clause for w in ruleset.rules}

    def duty_label(col: Column) -> str:
        title = titles.get(col.action, col.action)
        return title + (f" {col.period[5:]}" if col.period and "-Q" in col.period else "")

    grid = matrix(findings, ruleset, spec)
    context: dict[str, Any] = {
        "lang": lang, "t": UI[lang], "basis_note": basis_note(ruleset, lang),
        "title": getattr(spec.title, lang), "ruleset_title": getattr(ruleset.header.title, lang),
        "as_of": format_date(findings.as_of, lang) if lang == "zh" else format_instant(findings.as_of),
        "receipt": (findings.receipt.events_hash[:12] if findings.receipt else ""),
        "statuses": SHOWN_STATUSES, "levels": LEVELS, "bases": BASES, "labels": lab,
        "units": grid.units, "summary": unit_summary(findings, ruleset), "matrix": grid, "violations": findings.violations,
        "escalations": findings.escalations, "rejected": findings.rejected, "counts": findings.summary,
        "unit_label": lambda code: unit_name(ruleset, code, lang), "duty_label": duty_label,
        "escalation_label": lambda level, basis: escalation_label(lab, level, basis, lang),
        "rule_title": lambda rid: rule_titles.get(rid, rid), "clause": lambda rid: clauses.get(rid, ""),
        "fmt_date": lambda us: format_date(us, lang), "art": lambda n: article_label(n, lang),
    }
    return template.render(**context)
