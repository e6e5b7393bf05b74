"""Audit renderings: JSON (SPEC §4 + units), CSV (one row per obligation), terminal matrix, HTML."""
from __future__ import annotations

import csv
import io
import json
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from rich.console import Console
from rich.table import Table

from engine.audit import Column, levels_reached, matrix, unit_summary
from engine.findings import Findings
from engine.i18n import UI, format_date
from engine.labels import LEVELS, add_labels, labels
from engine.ruleset import Ruleset
from facts.timeutil import format_instant

STATUSES = ("fulfilled", "fulfilled_late", "overdue", "open")
SHORT = {"designate_liaison": "L", "file_annual_plan": "P", "allocate_budget": "B", "complete_self_inspection": "S",
         "run_awareness_campaign": "C", "analyze_trafficking_situation": "Q", "complete_annual_evaluation": "E",
         "complete_final_evaluation": "F"}
SYMBOL = {"fulfilled": "[green]✓[/green]", "fulfilled_late": "[yellow]![/yellow]", "overdue": "[bold red]✗[/bold red]",
          "open": "[blue]·[/blue]"}


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
    reached = levels_reached(findings)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["unit", "unit_name", "action", "duty", "article", "period", "subject", "due", "status",
                     "fulfilled_at", "escalations"])
    titles = duty_titles(ruleset, lang)
    for o in findings.obligations:
        writer.writerow([o.duty_bearer, ruleset.units.label(o.duty_bearer, lang), o.action, titles.get(o.action, o.action),
                         o.article, o.period or "", o.subject or "", format_instant(o.due) or "", o.status,
                         format_instant(o.fulfilled_at) or "", " ".join(reached.get(o.id, []))])
    return ("\ufeff" if excel else "") + out.getvalue()


def audit_table(findings: Findings, ruleset: Ruleset, console: Console, lang: str) -> None:
    m = matrix(findings, ruleset)
    summary = unit_summary(findings, ruleset)
    lab = labels(ruleset, lang)
    console.print(f"[bold]{getattr(ruleset.header.title, lang)}[/bold] — {UI[lang]['as_of']} {format_instant(findings.as_of)}")
    console.print("  ".join(f"{SYMBOL[s]} {lab['status'][s]}" for s in STATUSES))
    titles = duty_titles(ruleset, lang)
    console.print("  ".join(f"{code}={titles.get(action, action)}" for action, code in SHORT.items()))
    for year in m.years:
        table = Table(title=f"{UI[lang]['matrix']} {year}", show_lines=False, pad_edge=False, collapse_padding=True)
        table.add_column(UI[lang]["unit"], no_wrap=True, max_width=22)
        for col in m.columns[year]:
            name = col.period[5:] if col.period and "-Q" in col.period else SHORT.get(col.action, col.action)
            table.add_column(name, justify="center", no_wrap=True, min_width=3)
        for code in m.units:
            row = [ruleset.units.label(code, lang)]
            for col in m.columns[year]:
                o = m.cells.get((code, col.action, col.period))
                row.append(SYMBOL[o.status] if o else "")
            table.add_row(*row)
        console.print(table)
    esc = Table(title=UI[lang]["escalations"])
    for col in (UI[lang]["unit"], *(lab["level"][lv] for lv in LEVELS), UI[lang]["violations"]):
        esc.add_column(col, no_wrap=True)
    for code in m.units:
        s = summary[code]
        if s["violations"] or any(s["escalations"].values()):
            esc.add_row(ruleset.units.label(code, lang), *(str(s["escalations"][lv]) for lv in LEVELS), str(s["violations"]))
    console.print(esc)


def audit_html(findings: Findings, ruleset: Ruleset, lang: str) -> str:
    env = Environment(loader=PackageLoader("engine", "templates"), autoescape=select_autoescape(["html", "j2"]))
    template = env.get_template("audit.html.j2")
    titles = duty_titles(ruleset, lang)
    rule_titles = labels(ruleset, lang)["rules"]
    clauses = {w.rule.id: w.rule.clause for w in ruleset.rules}

    def duty_label(col: Column) -> str:
        title = titles.get(col.action, col.action)
        return title + (f" {col.period[5:]}" if col.period and "-Q" in col.period else "")

    grid = matrix(findings, ruleset)
    context: dict[str, Any] = {
        "lang": lang, "t": UI[lang], "ruleset_title": getattr(ruleset.header.title, lang),
        "as_of": format_date(findings.as_of, lang) if lang == "zh" else format_instant(findings.as_of),
        "receipt": (findings.receipt.events_hash[:12] if findings.receipt else ""),
        "statuses": STATUSES, "levels": LEVELS, "labels": labels(ruleset, lang),
        "units": grid.units, "summary": unit_summary(findings, ruleset), "matrix": grid, "violations": findings.violations, "escalations": findings.escalations,
        "rejected": findings.rejected,
        "unit_label": lambda code: ruleset.units.label(code, lang), "duty_label": duty_label,
        "rule_title": lambda rid: rule_titles.get(rid, rid), "clause": lambda rid: clauses.get(rid, ""),
        "fmt_date": lambda us: format_date(us, lang),
    }
    return template.render(**context)
