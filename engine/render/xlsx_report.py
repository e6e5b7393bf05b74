"""The audit report as an Excel workbook (`oblige audit … --format xlsx --out report.xlsx`), written
with openpyxl.

Sheets: the summary by unit (with the headline and the status legend); for each year the unit ×
duty matrix, each cell the obligation's status in the HTML report's colour; the violations; the
escalations (a proposal outlined, never filled like a decision, as in the HTML report); the
rejected records when there are any. Instants are Excel date-times on the ruleset's clock
(+08:00); codes stay beside the labels where a machine may want them (ids, unit codes).
"""
from __future__ import annotations

import functools
import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from oblige.engine.audit.records import AuditSpec, load_audit_spec
from oblige.engine.audit.summary import Column, matrix, unit_summary
from oblige.engine.core.findings import Findings
from oblige.engine.render.i18n import UI, article_label
from oblige.engine.render.labels import BASES, LEVELS, STATUSES, basis_note, escalation_label, labels, unit_name
from oblige.engine.rules.ruleset import Ruleset
from oblige.facts.timeutil import format_instant, from_us

SHOWN_STATUSES = ("fulfilled", "fulfilled_late", "overdue", "open", "discharged")
assert set(SHOWN_STATUSES) == set(STATUSES)

# The colours are the HTML report's: read from its stylesheet (templates/audit.html.j2), so that the
# two reports never drift apart; these are used only where the stylesheet has no such rule.
TEMPLATE = Path(__file__).parent / "templates" / "audit.html.j2"
DEFAULT_STYLES: dict[str, dict[str, Any]] = {
    "fulfilled": {"background": "CDECCD"}, "fulfilled_late": {"background": "FBE6A6"},
    "overdue": {"background": "F4B6B0", "bold": True}, "open": {"background": "E6EEF8"},
    "discharged": {"background": "ECECEC", "color": "555555"},
    "none": {"background": "FAFAFA", "color": "AAAAAA"},  # a duty the unit does not owe that year: "—"
    "supervision_notice": {"background": "C77C02"}, "public_criticism": {"background": "B3261E"},
    "one_vote_veto": {"background": "000000"},
}
_RULE = re.compile(r"(?:^|[\s};])(?:[a-z]+)?\.([a-z_]+)\s*\{([^}]*)\}", re.MULTILINE)
_HEX = re.compile(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b")


def _hex(text: str) -> str | None:
    m = _HEX.search(text)
    if not m:
        return None
    h = m.group(1).upper()
    return "".join(c * 2 for c in h) if len(h) == 3 else h


@functools.cache
def html_styles() -> dict[str, dict[str, Any]]:
    """Class -> {"background": RRGGBB, "color": RRGGBB, "bold": bool} for the statuses, `none` and the
    escalation levels, as the HTML report's stylesheet sets them (simple one-class rules only)."""
    styles = {name: dict(style) for name, style in DEFAULT_STYLES.items()}
    try:
        css = TEMPLATE.read_text(encoding="utf-8")
    except OSError:
        return styles
    css = css[css.find("<style"):css.find("</style>")]
    for name, body in _RULE.findall(css):
        if name not in styles:
            continue
        found: dict[str, Any] = {}
        for declaration in body.split(";"):
            prop, _, value = declaration.partition(":")
            prop = prop.strip().lower()
            if prop in ("background", "background-color") and _hex(value):
                found["background"] = _hex(value)
            elif prop == "color" and _hex(value):
                found["color"] = _hex(value)
            elif prop == "font-weight":
                found["bold"] = value.strip() in ("bold", "600", "700", "800", "900")
        if "background" in found:  # the stylesheet's rule for this class replaces the default one
            styles[name] = found
    return styles


def status_fill(status: str) -> PatternFill:
    return PatternFill("solid", fgColor=html_styles()[status]["background"])


def status_font(status: str) -> Font:
    style = html_styles()[status]
    return Font(bold=bool(style.get("bold")), color=style.get("color"))


def level_colour(level: str) -> str:
    return str(html_styles().get(level, {}).get("background", "000000"))


WORDS = {"zh": {"basis": "依据", "legend": "图例", "count": "数量", "id": "ID", "code": "代码"},
         "en": {"basis": "Basis", "legend": "Legend", "count": "Count", "id": "ID", "code": "Code"}}
DATE_FORMAT = "yyyy-mm-dd hh:mm"
_THIN = Side(style="thin", color="C8C8C8")
_GRID = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_FILL = PatternFill("solid", fgColor="F2F2F2")


def sheet_title(text: str, taken: Iterable[str] = ()) -> str:
    """A valid, unused sheet name: without []:*?/\\ and at most 31 characters.

    >>> sheet_title("Duties by unit, 2023"), sheet_title("a/b:c" * 9), sheet_title("X", ["X"])
    ('Duties by unit, 2023', 'a b ca b ca b ca b ca b ca b ca', 'X 2')
    """
    clean = "".join(" " if c in "[]:*?/\\" else c for c in text).strip()[:31] or "Sheet"
    taken = set(taken)
    title, n = clean, 1
    while title in taken:
        n += 1
        title = f"{clean[:31 - len(str(n)) - 1]} {n}"
    return title


def _when(us: int | None) -> Any:
    """An instant as an Excel date-time on the ruleset's clock (Excel has no time zones)."""
    return None if us is None else from_us(us).replace(tzinfo=None)


def _width(value: Any) -> int:
    text = value if isinstance(value, str) else "0000-00-00 00:00" if value is not None else ""
    return max((sum(2 if ord(c) > 0x2E7F else 1 for c in line) for line in str(text).splitlines()), default=0)


def _table(ws: Worksheet, top: int, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Header and rows from row `top`, gridded, dates formatted; returns the next free row."""
    for col, text in enumerate(header, start=1):
        cell = ws.cell(row=top, column=col, value=text)
        cell.font, cell.fill, cell.border = Font(bold=True), _HEADER_FILL, _GRID
        cell.alignment = Alignment(vertical="center", wrap_text=True)
    r = top
    for r, values in enumerate(rows, start=top + 1):
        for col, value in enumerate(values, start=1):
            cell = ws.cell(row=r, column=col, value=value)
            cell.border = _GRID
            if hasattr(value, "year"):
                cell.number_format = DATE_FORMAT
    return r + 1


def _fit(ws: Worksheet, widest: int = 60, from_row: int = 1) -> None:
    """Column widths from the widest value in each column (CJK counted double), from `from_row` on."""
    widths: dict[int, int] = {}
    for row in ws.iter_rows(min_row=from_row):
        for cell in row:
            if cell.value is not None:
                widths[cell.column] = max(widths.get(cell.column, 0), _width(cell.value))
    for col, w in widths.items():
        ws.column_dimensions[get_column_letter(col)].width = min(max(w + 2, 6), widest)


def _printable(ws: Worksheet, header_rows: str) -> None:
    """A4 landscape, as wide as the page, the header repeated on every page."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = header_rows


def audit_workbook(findings: Findings, ruleset: Ruleset, lang: str, spec: AuditSpec | None = None) -> Workbook:
    """The report as an openpyxl workbook."""
    spec = spec or load_audit_spec(ruleset)
    lab, t, w = labels(ruleset, lang), UI[lang], WORDS[lang]
    titles, rule_titles = lab["actions"], lab["rules"]
    clauses = {located.rule.id: located.rule.clause for located in ruleset.rules}
    grid = matrix(findings, ruleset, spec)
    summary = unit_summary(findings, ruleset)

    def unit(code: str) -> str:
        return unit_name(ruleset, code, lang)

    def duty_label(col: Column) -> str:
        title = titles.get(col.action, col.action)
        return title + (f" {col.quarter}" if col.quarter else "")

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = sheet_title(t["summary"])
    as_of = format_instant(findings.as_of) or ""
    ws["A1"] = getattr(spec.title, lang)
    ws["A1"].font = Font(bold=True, size=14)
    receipt = findings.receipt.events_hash[:12] if findings.receipt else ""
    ws["A2"] = f"{getattr(ruleset.header.title, lang)} · {t['as_of']} {as_of[:16].replace('T', ' ')} · {t['receipt']} {receipt}"
    ws["A3"] = basis_note(ruleset, lang) + " " + " · ".join(
        f"{lab['basis'].get(b, b)} {getattr(findings.summary, b)}" for b in BASES)
    ws.cell(row=4, column=1, value=w["legend"]).font = Font(bold=True)
    for n, status in enumerate(SHOWN_STATUSES, start=2):
        cell = ws.cell(row=4, column=n, value=lab["status"][status])
        cell.fill, cell.font, cell.border = status_fill(status), status_font(status), _GRID
    header = [t["unit"], t["obligations"], *(lab["status"][s] for s in SHOWN_STATUSES), t["violations"], t["escalations"]]

    def escalation_text(code: str) -> str:
        by_basis = summary[code]["escalations_by_basis"]
        return "; ".join(f"{escalation_label(lab, lv, b, lang)} ×{by_basis[lv][b]}"
                         for lv in LEVELS for b in BASES if by_basis[lv][b])

    _table(ws, 6, header, ([unit(code), summary[code]["obligations"], *(summary[code][s] for s in SHOWN_STATUSES),
                            summary[code]["violations"], escalation_text(code)] for code in grid.units))
    _fit(ws, from_row=4)
    ws.freeze_panes = "B7"
    _printable(ws, "6:6")

    for year in grid.years:
        ms = wb.create_sheet(sheet_title(f"{t['matrix']} {year}", wb.sheetnames))
        columns = grid.columns[year]
        _table(ms, 1, [t["unit"], *(duty_label(col) for col in columns)], [])
        for r, code in enumerate(grid.units, start=2):
            first = ms.cell(row=r, column=1, value=unit(code))
            first.border = _GRID
            for c, col in enumerate(columns, start=2):
                o = grid.cells.get((code, col.action, col.period))
                cell = ms.cell(row=r, column=c)
                cell.border, cell.alignment = _GRID, Alignment(horizontal="center", vertical="center", wrap_text=True)
                if o is None:
                    cell.value, cell.fill, cell.font = "—", status_fill("none"), status_font("none")
                else:  # the status, and on a second line its due date (seen without opening anything)
                    due = f"\n{t['due']} {(format_instant(o.due) or '')[:10]}" if o.due is not None else ""
                    cell.value, cell.fill, cell.font = lab["status"][o.status] + due, status_fill(o.status), status_font(o.status)
        _fit(ms, widest=24)
        for c in range(2, len(columns) + 2):
            ms.cell(row=1, column=c).alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ms.freeze_panes = "B2"
        _printable(ms, "1:1")

    vs = wb.create_sheet(sheet_title(t["violations"], wb.sheetnames))
    _table(vs, 1, [t["unit"], t["article"], t["kind"], t["duty"], t["period"], t["at"], t["remedied"], t["clause"],
                   w["id"], w["code"]],
           ([unit(v.unit), article_label(v.article, lang), lab["kind"].get(v.kind, v.kind), rule_titles.get(v.rule, v.rule),
             v.period or v.subject or "", _when(v.at), _when(v.remedied_at), clauses.get(v.rule, ""), v.id, v.unit]
            for v in findings.violations))
    _fit(vs)
    vs.freeze_panes = "B2"
    _printable(vs, "1:1")

    es = wb.create_sheet(sheet_title(t["escalations"], wb.sheetnames))
    _table(es, 1, [t["at"], t["level"], w["basis"], t["unit"], t["issued_by"], t["article"], t["period"], w["id"], w["code"]],
           ([_when(e.at), escalation_label(lab, e.level, e.basis, lang), lab["basis"].get(e.basis, e.basis), unit(e.unit),
             unit(e.issued_by), article_label(e.article, lang), e.period, e.id, e.unit] for e in findings.escalations))
    for r, e in enumerate(findings.escalations, start=2):
        _level_style(es.cell(row=r, column=2), e.level, e.basis)
    _fit(es)
    es.freeze_panes = "A2"
    _printable(es, "1:1")

    if findings.rejected:
        rs = wb.create_sheet(sheet_title(t["rejected"], wb.sheetnames))
        _table(rs, 1, [t["file"], t["line"], w["id"], t["error"]],
               ([r.file, r.line, r.id or "", r.error] for r in findings.rejected))
        _fit(rs, widest=100)
    return wb


def _level_style(cell: Any, level: str, basis: str) -> None:
    """As the HTML badges: a decision (or a notice by rule) filled in the level's colour, a proposal
    outlined with a dashed border in it, a declined proposal grey and struck through."""
    colour = level_colour(level)
    if basis == "proposed":
        dashed = Side(style="dashed", color=colour)
        cell.font, cell.border = Font(color=colour, bold=True), Border(left=dashed, right=dashed, top=dashed, bottom=dashed)
    elif basis == "declined":
        cell.font = Font(color="777777", strike=True)
    else:
        cell.fill, cell.font = PatternFill("solid", fgColor=colour), Font(color="FFFFFF", bold=True)


def audit_xlsx(findings: Findings, ruleset: Ruleset, lang: str, spec: AuditSpec | None = None) -> bytes:
    """The report as the bytes of an .xlsx file."""
    buffer = io.BytesIO()
    audit_workbook(findings, ruleset, lang, spec).save(buffer)
    return buffer.getvalue()
