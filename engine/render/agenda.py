"""The forward agenda as a person reads it (a table in one language) or as JSON (codes)."""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import IO

from oblige.engine.render.i18n import UI
from oblige.engine.render.labels import basis_note, escalation_label, labels, unit_name
from oblige.engine.render.table import grid, when_text
from oblige.engine.rules.ruleset import Ruleset
from oblige.engine.store.live import AgendaItem
from oblige.facts.timeutil import format_instant


def render_agenda(out: IO[str], ruleset: Ruleset, unit: str, start: int, end: int, items: Sequence[AgendaItem],
                  fmt: str, lang: str) -> None:
    if fmt == "json":
        doc = {"ruleset": ruleset.name, "unit": unit, "from": format_instant(start), "to": format_instant(end),
               "items": [item.to_json() for item in items]}
        out.write(json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    words = UI[lang]
    lab = labels(ruleset, lang)
    console = Console(file=out)
    title = words["agenda"].format(unit=unit_name(ruleset, unit, lang), start=when_text(start, lang),
                                   end=when_text(end, lang))
    if not items:
        console.print(title)
        console.print(words["agenda_none"])
        return
    # laid out by the table module's grid: no word cut, and row by row where the columns cannot keep them
    # whole (rich folded "Supervision" and "self-inspection" into pieces below 80 columns)
    table = Table(title=title, caption=basis_note(ruleset, lang))
    for header in (words["due"], words["article"], words["duty"], words["subject"], words["agenda_then"]):
        table.add_column(header, no_wrap=header in (words["due"], words["article"]))
    # each escalation with its basis, as in every human format: a proposal never reads like a decision (SPEC §3.4)
    rows: list[tuple[str, ...]] = [
        (when_text(item.due, lang), str(item.article), item.title, item.subject or item.period or "",
         "\n".join(f"{escalation_label(lab, level, basis, lang)} {when_text(at, lang)}" for level, basis, at in item.then))
        for item in items]
    out.write(grid(table, rows, console.width))
