"""Audit renderings: JSON (SPEC §4 + units), CSV (one row per obligation), terminal matrix, HTML.

Every human format says how firm an escalation is: a proposed public criticism or veto (the
engine's recommendation to the political-legal committee) never reads like a determined one.
"""
from __future__ import annotations

import csv
import io
import json
import re
from collections import defaultdict
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from oblige.engine.audit.records import AuditSpec, load_audit_spec
from oblige.engine.audit.summary import Column, Matrix, levels_reached, matrix, unit_summary
from oblige.engine.core.findings import Escalation, Findings, Violation
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
from oblige.engine.render.table import by_basis, escalation_counts, grid, record_heading
from oblige.engine.render.table import when_text as when
from oblige.engine.rules.ruleset import Ruleset
from oblige.facts.timeutil import format_instant, from_us

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
    """One row per obligation. `en`: codes for machines with English labels beside them; `zh`: one
    language end to end (headers, units, duties, articles, periods, dates, statuses, escalations in
    Chinese; programs read the JSON or the `en` CSV for codes)."""
    from oblige.engine.render.i18n import CSV_HEADER_ZH, format_period, format_when

    reached = levels_reached(findings)
    lab = labels(ruleset, lang)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    titles = lab["actions"]
    if lang == "zh":
        writer.writerow(CSV_HEADER_ZH)
        for o in findings.obligations:
            steps = reached.get(o.id, [])
            writer.writerow([unit_name(ruleset, o.duty_bearer, lang), titles.get(o.action, o.action),
                             article_label(o.article, lang), format_period(o.period, lang), o.subject or "",
                             format_when(o.due, lang) if o.due is not None else "", lab["status"].get(o.status, o.status),
                             format_when(o.fulfilled_at, lang) if o.fulfilled_at is not None else "",
                             "；".join(escalation_label(lab, level, basis, lang) for level, basis in steps)])
        return ("\ufeff" if excel else "") + out.getvalue()
    writer.writerow(["unit", "unit_name", "action", "duty", "article", "period", "subject", "due", "status",
                     "status_label", "fulfilled_at", "escalations", "escalations_label"])
    for o in findings.obligations:
        steps = reached.get(o.id, [])
        writer.writerow([o.duty_bearer, unit_name(ruleset, o.duty_bearer, lang), o.action, titles.get(o.action, o.action),
                         o.article, o.period or "", o.subject or "", format_instant(o.due) or "", o.status,
                         lab["status"].get(o.status, o.status), format_instant(o.fulfilled_at) or "",
                         " ".join(f"{level}:{basis}" for level, basis in steps),
                         "; ".join(escalation_label(lab, level, basis, lang) for level, basis in steps)])
    return ("\ufeff" if excel else "") + out.getvalue()


def _matrix_records(m: Matrix, year: str, ruleset: Ruleset, spec: AuditSpec, console: Console, title: str,
                    lang: str) -> None:
    """One year of the matrix on a terminal too narrow for its columns: each unit on a rule of its own,
    then every duty's short name with its status, as many to a line as fit (nothing cut or cropped)."""
    console.print(title, justify="center", markup=False)
    for code in m.units:
        console.file.write("\n".join(record_heading(unit_name(ruleset, code, lang), console.width)) + "\n")
        line: list[str] = []
        used = 2  # cells of the line so far: its indent, then each "short status" and two spaces between
        for col in m.columns[year]:
            o = m.cells.get((code, col.action, col.period))
            if o is None:  # not this unit's duty (the table leaves its cell empty)
                continue
            short = col.quarter or spec.short.get(col.action, col.action)
            size = cell_len(short) + 2  # "short" and its one-cell status, a space between
            if line and used + 2 + size > console.width:
                console.print("  " + "  ".join(line))
                line, used = [], 2
            used += (2 if line else 0) + size
            line.append(f"{escape(short)} {SYMBOL[o.status]}")
        console.print("  " + ("  ".join(line) or "—"))


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
        names = console.width - 5 * len(m.columns[year]) - 3  # room for the units' names (a status column: 5 cells)
        if names < 8:  # a unit's name would not show: a record a unit
            _matrix_records(m, year, ruleset, spec, console, f"{t['matrix']} {year}", lang)
            continue
        table = Table(title=f"{t['matrix']} {year}", show_lines=False, pad_edge=False, collapse_padding=True)
        # a unit a line, its name cut short on a narrow terminal rather than the last columns
        table.add_column(t["unit"], no_wrap=True, max_width=min(22, names))
        for col in m.columns[year]:
            name = col.quarter or spec.short.get(col.action, col.action)
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
    esc.add_column(t["unit"])  # as wide as the terminal allows; a long name wraps (rich cut the last columns off)
    for i, lv in enumerate(LEVELS, start=1):
        # a count and its basis are never cut (one basis a line): the column is as wide as its widest line
        esc.add_column(lab["level"][lv], min_width=max([cell_len(x) for r in rows for x in r[i].splitlines()] + [4]))
    for header in (t["violations_short"], lab["status"]["discharged"]):
        esc.add_column(header)
    console.file.write(grid(esc, rows, console.width))


# Words of the HTML report beyond the shared frame (i18n.UI): only audit_html uses them.
_HTML_WORDS: dict[str, dict[str, str]] = {
    "zh": {
        "cells_note": "每格为该单位该事项的履行状态和期限；带下划线的格有违规记录，点击可跳至该单位的详情。",
        "due": "期限", "done": "履行于", "details": "各单位违规事项与督办问责", "duties": "事项与条文",
        "clean": "无违规事项、无督办问责的单位：", "none": "无", "id": "编号", "top": "↑ 回到顶部",
        "vio_count": "违规事项 {n} 项", "esc_count": "督办问责 {n} 项",
        "esc_for": "督办问责（发出时间）", "at_due": "违规时间（期限）",
        "assessment": "{issuer}年度考核（{period}年度）", "by_rule": "{issuer}依规发出",
        "proposed_to": "建议{issuer}决定", "determined_by": "{issuer}考核决定", "declined_by": "{issuer}考核未采纳",
        "legend_rule": "依规督办：已依规发出", "legend_proposed": "虚线框“建议”：仅为建议，尚未决定",
        "legend_determined": "实心“决定”：已由考核决定", "legend_declined": "删除线“未采纳”：考核未采纳该建议",
        "receipt_title": "凭证：本报告从何而来",
        "receipt_text": "本报告由 oblige {engine} 按规则集《{ruleset_title}》（{ruleset}）及其参数，对单位台账中的"
                        " {events} 条有效记录计算所得，截至 {as_of}；工作日按 {calendar} 计算。"
                        "下列哈希值是这些输入的“指纹”：用相同的规则、参数和台账重新运行 oblige audit，"
                        "哈希值相同则报告内容必然相同；任何一项输入改动，其哈希值随之改变。",
        "r_ruleset": "规则集内容哈希", "r_params": "参数哈希", "r_events": "记录事件哈希",
        "no_receipt": "本报告未附凭证（并非由 oblige 计算所得的文档）。",
        "explain": "查看某项违规或督办问责的依据和推理：",
    },
    "en": {
        "cells_note": "Each cell: the unit's status on that duty and its due date; an underlined cell has a violation "
                      "and links to the unit's details.",
        "due": "due", "done": "done", "details": "Violations and escalations by unit", "duties": "Duties and their clauses",
        "clean": "Units with no violation and no escalation: ", "none": "none", "id": "ID", "top": "↑ back to top",
        "vio_count": "{n} violations", "esc_count": "{n} escalations",
        "esc_for": "Escalations (date)", "at_due": "Violated (due)",
        "assessment": "{issuer}'s assessment of {period}", "by_rule": "issued by {issuer} by rule",
        "proposed_to": "proposed to {issuer} for decision", "determined_by": "decided by {issuer} in its assessment",
        "declined_by": "not taken up by {issuer} in its assessment",
        "legend_rule": "by rule: issued", "legend_proposed": "dashed outline, \u201cproposed\u201d: a recommendation only, not decided",
        "legend_determined": "solid, \u201cdetermined\u201d: decided in the assessment",
        "legend_declined": "struck through, \u201cdeclined\u201d: the assessment did not take it up",
        "receipt_title": "Receipt: where this report comes from",
        "receipt_text": "This report was computed by oblige {engine} with the ruleset \u201c{ruleset_title}\u201d ({ruleset}) "
                        "and its parameters, from {events} valid events read from the unit records, as of {as_of}; "
                        "working days follow {calendar}. The hashes below are fingerprints of those inputs: run "
                        "oblige audit again with the same rules, parameters and records and equal hashes mean the "
                        "same report; if any input changed, its hash differs.",
        "r_ruleset": "ruleset content hash", "r_params": "parameters hash", "r_events": "events hash",
        "no_receipt": "This document carries no receipt (it was not computed by oblige).",
        "explain": "To see why a violation or escalation exists:",
    },
}


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _due_text(us: int | None, year: str, lang: str) -> str:
    """A due date short enough for a matrix cell: the month and day when it falls in the column's year."""
    if us is None:
        return ""
    d = from_us(us)
    if str(d.year) != year:
        return format_date(us, lang)
    return f"{d.month}月{d.day}日" if lang == "zh" else f"{_MONTHS[d.month - 1]} {d.day}"  # not the C locale's %b


def _calendar_words(calendar: str, lang: str) -> str:
    """The receipt's working-day calendar in words (the receipt itself keeps its English name)."""
    m = re.fullmatch(r"(\S+ \S+) \(official PRC calendar (\d+)-(\d+); Mon-Fri beyond\)", calendar)
    if m is None:
        return calendar or "—"
    if lang == "zh":
        return f"国务院公布的法定节假日安排（{m[1]}，{m[2]}–{m[3]}年；其后按周一至周五计）"
    return f"the official PRC holiday calendar ({m[1]}, {m[2]}–{m[3]}; Monday to Friday beyond)"


def audit_html(findings: Findings, ruleset: Ruleset, lang: str, spec: AuditSpec | None = None) -> str:
    """The report a district official acts on: summary, unit × duty matrices (status and due date in
    every cell, a violated cell linked to its row), violations and their escalations grouped by unit
    with the duty they concern, the clauses, and the receipt in words; printable on A4 landscape."""
    spec = spec or load_audit_spec(ruleset)
    env = Environment(loader=PackageLoader("oblige.engine.render", "templates"), autoescape=select_autoescape(["html", "j2"]))
    template = env.get_template("audit.html.j2")
    lab = labels(ruleset, lang)
    words = _HTML_WORDS[lang]
    titles = lab["actions"]
    rule_titles = lab["rules"]
    clauses = {w.rule.id: w.rule.clause for w in ruleset.rules}

    def duty_label(col: Column) -> str:
        title = titles.get(col.action, col.action)
        return title + (f" {col.quarter}" if col.quarter else "")

    grid = matrix(findings, ruleset, spec)
    shown = set(grid.units)
    violation_of = {v.obligation: v for v in findings.violations if v.obligation}
    by_violation: dict[str, list[Escalation]] = defaultdict(list)
    violation_ids = {v.id for v in findings.violations}
    unit_violations: dict[str, list[Violation]] = defaultdict(list)
    unit_other: dict[str, list[Escalation]] = defaultdict(list)  # escalations not about a listed violation (decisions)
    for v in findings.violations:
        unit_violations[v.unit].append(v)
    for e in findings.escalations:
        refs = [ref for ref in e.because if ref in violation_ids]
        for ref in refs:
            by_violation[ref].append(e)
        if not refs:
            unit_other[e.unit].append(e)
    for items in by_violation.values():
        items.sort(key=lambda e: (e.at, LEVELS.index(e.level), e.id))
    involved = [code for code in grid.units if unit_violations.get(code) or unit_other.get(code)]
    extra = sorted((set(unit_violations) | set(unit_other)) - shown)  # a unit outside the registry's list, if any
    article_of = {v.rule: v.article for v in findings.violations}
    cited = sorted(article_of, key=lambda rid: (article_of[rid], rid))  # the duties violated, by article

    def issuer_words(e: Escalation) -> str:
        key = {"rule": "by_rule", "proposed": "proposed_to", "determined": "determined_by", "declined": "declined_by"}[e.basis]
        return words[key].format(issuer=unit_name(ruleset, e.issued_by, lang))

    receipt = findings.receipt
    receipt_words = ""
    if receipt is not None:
        receipt_words = words["receipt_text"].format(
            engine=receipt.engine_version, ruleset_title=getattr(ruleset.header.title, lang), ruleset=receipt.ruleset,
            events=findings.summary.events, as_of=when(receipt.as_of, lang), calendar=_calendar_words(receipt.calendar, lang))
    context: dict[str, Any] = {
        "lang": lang, "t": UI[lang], "w": words, "basis_note": basis_note(ruleset, lang),
        "title": getattr(spec.title, lang), "ruleset_title": getattr(ruleset.header.title, lang),
        "as_of": when(findings.as_of, lang),
        "receipt": receipt, "receipt_short": receipt.events_hash[:12] if receipt else "", "receipt_words": receipt_words,
        "statuses": SHOWN_STATUSES, "levels": LEVELS, "bases": BASES, "labels": lab,
        "units": grid.units, "summary": unit_summary(findings, ruleset), "matrix": grid, "violations": findings.violations,
        "escalations": findings.escalations, "rejected": findings.rejected, "counts": findings.summary,
        "involved": [*involved, *extra], "clean": [code for code in grid.units if code not in involved],
        "unit_violations": unit_violations, "unit_other": unit_other, "by_violation": by_violation,
        "violation_of": violation_of, "cited": cited, "article_of": article_of, "issuer_words": issuer_words,
        "unit_label": lambda code: unit_name(ruleset, code, lang), "duty_label": duty_label,
        "escalation_label": lambda level, basis: escalation_label(lab, level, basis, lang),
        "rule_title": lambda rid: rule_titles.get(rid, rid), "clause": lambda rid: clauses.get(rid, ""),
        "fmt_date": lambda us: format_date(us, lang), "art": lambda n: article_label(n, lang),
        "due_text": lambda us, year: _due_text(us, year, lang),
        "rule_anchor": lambda rid: "rule-" + "".join(c if c.isalnum() else "-" for c in rid),
    }
    return template.render(**context)
