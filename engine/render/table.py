"""The terminal table of `eval` and `findings`: who must be chased, at a glance, in zh or en."""
from __future__ import annotations

import re
from collections import defaultdict

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

from oblige.engine.core.findings import Findings
from oblige.engine.render.i18n import UI, article_label, format_date
from oblige.engine.render.labels import BASES, LEVELS, basis_note, escalation_label, labels
from oblige.engine.rules.ruleset import Ruleset
from oblige.facts.timeutil import format_instant


def when_text(us: int | None, lang: str) -> str:
    """An instant as the tables write it: 2023年3月31日 23:59 in zh, 2023-03-31 23:59 in en."""
    return _when(us, lang)


def _when(us: int | None, lang: str) -> str:
    if us is None:
        return "—"
    text = format_instant(us) or ""
    return format_date(us, lang) + " " + text[11:16] if lang == "zh" else text[:16].replace("T", " ")


Measured = tuple[list[int], list[int], list[int]]  # each column's natural width, longest word, rigid width


def _fit(table: Table, measured: Measured, width: int) -> tuple[list[int], int]:
    """The widths of a table's columns on a terminal `width` wide, and the padding either side of a
    cell: natural widths when they fit; else the columns that must not wrap (ids, dates, articles)
    keep theirs and the others share the rest (rich's own reduction can cut the last columns off).
    What is shared out first: 12 cells a column (fewer if it needs fewer, more if a word does), with
    the padding, else without; where that is too much, each column its longest word, so that no word
    is cut (Chinese breaks anywhere: a character); then words up to 12 cells; last a share of the room
    by the same measure. What is left goes to the narrow columns first, the wide ones alike."""
    columns = table.columns
    natural, words, rigid = measured
    pad = 1
    overhead = len(columns) + 1 + 2 * pad * len(columns)  # borders and the padding either side of every cell
    if sum(natural) + overhead <= width:
        return natural, pad
    whole, natural = natural, [min(n, r) for n, r in zip(natural, rigid, strict=True)]
    flexible = sorted((i for i, col in enumerate(columns) if not col.no_wrap and not col.min_width),
                      key=lambda i: natural[i])
    room = width - overhead - sum(n for i, n in enumerate(natural) if i not in flexible)
    floors = {i: max(words[i], min(natural[i], 12)) for i in flexible}  # a column comfortably wide
    if room < sum(floors.values()):  # rather than narrower columns, no space around the cells
        pad = 0
        room += 2 * len(columns)
    if room < sum(floors.values()):  # then each column as wide as its longest word: none is cut
        floors = {i: words[i] for i in flexible}
    if room < sum(floors.values()):  # very narrow: words up to 12 cells whole, and a share of the room last
        floors = {i: min(words[i], 12) for i in flexible}
    widths = list(natural)
    floor_sum = sum(floors.values()) or 1
    for i in flexible:
        widths[i] = max(2, floors[i] if floor_sum <= room else room * floors[i] // floor_sum)
    surplus = room - sum(widths[i] for i in flexible)
    wanting = sorted(flexible, key=lambda i: natural[i] - widths[i])
    for k, i in enumerate(wanting):  # then the rest, shared: the narrow ones get all they need, the wide ones the same
        extra = max(0, min(natural[i] - widths[i], surplus // (len(wanting) - k)))
        widths[i] += extra
        surplus -= extra
    for i in range(len(columns)):  # what is left unwraps the headers of the columns never cut, whole ones only
        if 0 < whole[i] - widths[i] <= surplus:
            surplus -= whole[i] - widths[i]
            widths[i] = whole[i]
    return widths, pad


def words_fit(table: Table, rows: list[tuple[str, ...]], width: int) -> bool:
    """Whether `grid` can draw this table `width` wide without cutting a word (with no padding at worst)."""
    return _words_fit(table, _measure(table, rows), width)


def _words_fit(table: Table, measured: Measured, width: int) -> bool:
    natural, words, rigid = measured
    flexible = [not col.no_wrap and not col.min_width for col in table.columns]
    needed = sum(w if f else min(n, r) for f, n, w, r in zip(flexible, natural, words, rigid, strict=True))
    return needed + len(table.columns) + 1 <= width


def _measure(table: Table, rows: list[tuple[str, ...]]) -> Measured:
    """Each column's natural width (within its max_width), longest word and rigid width (what it
    keeps when the table is narrowed: all of it unless it may wrap; a `min_width` column its cells)."""
    natural, words, rigid = [], [], []
    for i, col in enumerate(table.columns):
        texts = {str(col.header), *(r[i] for r in rows)}
        widest = max([cell_len(line) for text in texts for line in text.splitlines()] + [col.min_width or 0, 1])
        natural.append(min(widest, col.max_width) if col.max_width else widest)
        words.append(min(natural[i], max(_longest_word(text) for text in texts)))
        if col.no_wrap or not col.min_width:
            rigid.append(natural[i])
        else:  # a column that is never cut (`min_width`: every line of its cells) may still wrap its header at spaces
            cells = max([cell_len(line) for r in rows for line in r[i].splitlines()] + [col.min_width, 1])
            rigid.append(max([cells] + [cell_len(word) for word in str(col.header).split()]))
    return natural, words, rigid


_WIDE = "\u2e80-\ua4cf\uac00-\ud7af\uf900-\ufaff\uff01-\uff60\uffe0-\uffe6"  # CJK and full-width forms
_OPENING, _CLOSING = "「『（【〔〈《", "」』）】〕〉》，。、：；！？"  # kept with what they open, and close or end
_WHEN = r"\d{4}-\d\d-\d\d \d\d:\d\d|\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d"  # a date and its time: one word (when_text)
_HAS_WHEN = re.compile(_WHEN)
_TOKEN = re.compile(  # what a line breaks after
    f"(?:{_WHEN})[{_CLOSING}]*\\s*|[{_OPENING}]*(?:[^\\s{_WIDE}]+|[{_WIDE}])[{_CLOSING}]*\\s*|\\s+")


def _longest_word(text: str) -> int:
    """The cells of the longest stretch a line does not break (`_TOKEN`): a word, a date with its time,
    one character of Chinese (which breaks anywhere) with the punctuation kept beside it; 1 for none.

    >>> _longest_word("Compare DNA before registering"), _longest_word("来历不明儿童"), _longest_word("区公安(分)局")
    (11, 2, 2)
    >>> _longest_word("notice 2023-12-31 23:59"), _longest_word("「法释〔2016〕28号」")
    (16, 8)
    """
    if text.isascii() and not _HAS_WHEN.search(text):  # most cells: a character a cell, broken at spaces
        return max(map(len, text.split()), default=0) or 1
    return max([cell_len(token.rstrip()) for token in _TOKEN.findall(text)] + [1])


def _wrap(text: str, width: int) -> list[str]:
    """A cell's lines at most `width` cells wide: broken at spaces and between Chinese characters (which
    have no spaces between them), a word longer than the width anywhere; a character is never cut."""
    out: list[str] = []
    for para in text.split("\n"):
        if cell_len(para) <= width:
            out.append(para)
            continue
        line, used = "", 0
        for word in _TOKEN.findall(para):
            size = cell_len(word.rstrip())
            if used and used + size > width:
                out.append(line.rstrip())
                line, used = "", 0
            while size > width:  # a word wider than the column: folded
                cut, taken = 0, 0
                while cut < len(word) and taken + cell_len(word[cut]) <= width:
                    taken += cell_len(word[cut])
                    cut += 1
                out.append(word[:max(cut, 1)])
                word = word[max(cut, 1):]
                size = cell_len(word.rstrip())
            line += word
            used += cell_len(word)
        out.append(line.rstrip())
    return out


def hanging(text: str, width: int | None) -> str:
    """Lines of `text` wider than `width` broken at spaces (Chinese anywhere), each part after the first
    indented four cells more than its line (a line's children are indented two), or under its value
    where the line is a label aligned with spaces (`clause:   ...`): a terminal's own wrapping would cut
    words and lose the indentation that shows what belongs to what. None or 0: as it is (not a terminal).

    >>> print(hanging("  clause:   one two three four five six seven eight nine ten eleven", 30))
      clause:   one two three four
                five six seven eight
                nine ten eleven
    """
    if not width:
        return text
    out: list[str] = []
    for line in text.split("\n"):
        if cell_len(line) <= width:
            out.append(line)
            continue
        body = line.lstrip(" ")
        indent = len(line) - len(body)
        label = _LABEL.match(line)
        hang = " " * (cell_len(label.group(0)) if label and cell_len(label.group(0)) < width // 2 else indent + 4)
        first = _wrap(body, max(width - indent, 20))[0]  # a prefix of the line: _wrap only breaks it
        rest = body[len(first):].lstrip(" ")
        out.append(" " * indent + first)
        out += [hang + part for part in (_wrap(rest, max(width - len(hang), 20)) if rest else [])]
    return "\n".join(out)


_LABEL = re.compile(r" *[^\s:]+: {2,}")  # a label and the spaces that align its value


def grid(table: Table, rows: list[tuple[str, ...]], width: int) -> str:
    """A table as text, drawn like rich's: every row laid out once with widths computed once (rich
    measures and wraps every cell of a table through its generic layout, 13 s for the 68,000 lines
    of 20,000 events; this takes well under a second), and never wider than `width` where its
    rigid columns fit (rich, printing a table wider than the terminal, cuts its last columns off).
    Where its columns cannot keep every word whole, each row is written as a record instead. Of a
    column it reads the header, `justify`, `no_wrap`, `min_width` and `max_width` (never `overflow`:
    a word longer than its column is folded)."""
    measured = _measure(table, rows)
    if not _words_fit(table, measured, width):
        return _records(table, rows, width)
    widths, padding = _fit(table, measured, width)
    pad = " " * padding

    justify = [col.justify for col in table.columns]

    def placed(text: str, width: int, how: str) -> str:
        space = width - cell_len(text)
        return " " * space + text if how == "right" else text + " " * space

    def line(cells: list[str], left: str, mid: str, right: str) -> str:
        return left + mid.join(pad + placed(c, w, j) + pad for c, w, j in zip(cells, widths, justify, strict=True)) + right

    def block(texts: tuple[str, ...] | list[str], bar: str) -> list[str]:
        wrapped = [_wrap(text, w) for text, w in zip(texts, widths, strict=True)]
        height = max(len(w) for w in wrapped)
        return [line([w[k] if k < len(w) else "" for w in wrapped], bar, bar, bar) for k in range(height)]

    def rule(left: str, mid: str, right: str, fill: str) -> str:
        return left + mid.join(fill * (w + 2 * len(pad)) for w in widths) + right

    total = sum(widths) + len(widths) + 1 + 2 * len(pad) * len(widths)
    out = [*_title(table, total), rule("┏", "┳", "┓", "━"), *block([str(c.header) for c in table.columns], "┃"),
           rule("┡", "╇", "┩", "━")]
    for row in rows:
        out += block(row, "│")
    out.append(rule("└", "┴", "┘", "─"))
    if table.caption:
        out += [" " + text for text in _wrap(str(table.caption), max(total - 2, 10))]
    return "\n".join(out) + "\n"


def _title(table: Table, width: int) -> list[str]:
    """A table's title centred over its `width`, on as many lines as it needs."""
    lines = _wrap(str(table.title or ""), max(width, 10)) if table.title else [""]
    return [line.center(width - (cell_len(line) - len(line))).rstrip() for line in lines]


def record_heading(text: str, width: int) -> list[str]:
    """What heads a record: its first cell on a rule `width` wide, wrapped where it is longer."""
    heads = _wrap(" ".join(text.split()), max(width - 6, 8))
    return ["── " + heads[0] + " " + "─" * max(width - 4 - cell_len(heads[0]), 2)] + ["   " + h for h in heads[1:]]


def _records(table: Table, rows: list[tuple[str, ...]], width: int) -> str:
    """A table too wide for the terminal, row by row: the first cell (an id, a unit) on a rule of its
    own, then every other cell under its header's name, wrapped at `width` (as `psql` expands a
    result). Nothing is cut, and no line is wider than `width` unless one word is."""
    names = [" ".join(str(col.header).split()) for col in table.columns]
    label = max(cell_len(name) for name in names[1:]) if len(names) > 1 else 0
    room = max(width - 2 - label - 2, 8)
    out = _title(table, width)
    for row in rows:
        out += record_heading(row[0], width)
        for name, col, text in zip(names[1:], table.columns[1:], row[1:], strict=True):
            if col.no_wrap:  # a date and its time, put on two lines for a narrow column, have room here
                text = " ".join(text.split("\n"))
            lines = _wrap(text, room) or [""]
            out.append(("  " + name + " " * (label - cell_len(name) + 2) + lines[0]).rstrip())
            out += [" " * (label + 4) + more for more in lines[1:]]
    if table.caption:
        out += [" " + text for text in _wrap(str(table.caption), max(width - 2, 10))]
    return "\n".join(out) + "\n"


def by_basis(counts: dict[tuple[str, str], int], level: str, lab: dict[str, dict[str, str]], lang: str,
             sep: str = " ") -> str:
    """One unit's escalations of one level, each count with its basis, so that a proposal is
    never counted as a decision: `2建议 1决定`, `3 proposed`, `0`.

    >>> lab = {"basis": {"determined": "决定", "proposed": "建议", "declined": "未采纳"}}
    >>> by_basis({("one_vote_veto", "determined"): 1, ("one_vote_veto", "proposed"): 2}, "one_vote_veto", lab, "zh")
    '2建议 1决定'
    >>> by_basis({("public_criticism", "proposed"): 3}, "public_criticism", {"basis": {"proposed": "Proposed"}}, "en")
    '3 proposed'
    """
    parts = []
    for basis in BASES:
        n = counts.get((level, basis), 0)
        if n:
            word = lab["basis"].get(basis, basis)
            parts.append(str(n) if basis == "rule" else f"{n}{word}" if lang == "zh" else f"{n} {word.lower()}")
    return sep.join(parts) or "0"


def escalation_counts(findings: Findings) -> dict[str, dict[tuple[str, str], int]]:
    """unit -> (level, basis) -> how many escalations."""
    counts: dict[str, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    for e in findings.escalations:
        counts[e.unit][(e.level, e.basis)] += 1
    return counts


def render_table(findings: Findings, ruleset: Ruleset, console: Console, lang: str = "zh",
                 explain_hint: str | None = None) -> None:
    """Per unit: what is overdue and how it escalated; then every violation that is not an overdue
    duty (skipped checks, prohibited acts, breaches), the overdue duties and the escalations, each
    with the id `oblige explain` takes; last, how to explain one (`explain_hint`, the command with
    ID where the id goes)."""
    t, lab, s = UI[lang], labels(ruleset, lang), findings.summary
    narrow = console.width < 120  # the time goes under the date, which is never cut

    def add_rows(tab: Table, rows: list[tuple[str, ...]]) -> None:
        console.file.write(grid(tab, rows, console.width))

    def when(us: int | None) -> str:
        return _when(us, lang).replace(" ", "\n") if narrow else _when(us, lang)

    console.print(t["headline"].format(
        name=getattr(ruleset.header.title, lang), as_of=_when(findings.as_of, lang),
        events=s.events, duplicates=s.duplicates, rejected=s.rejected, before=s.before_effective, after=s.after_as_of,
        obligations=s.obligations, open=s.open, fulfilled=s.fulfilled, late=s.fulfilled_late, overdue=s.overdue,
        discharged=s.discharged, violations=s.violations, escalations=s.escalations, rule=s.rule, proposed=s.proposed,
        determined=s.determined, declined=s.declined))
    per_unit: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for o in findings.obligations:
        per_unit[o.duty_bearer][o.status] += 1
    for v in findings.violations:
        per_unit[v.unit]["violations"] += 1
    escalations = escalation_counts(findings)

    def name(code: str) -> str:
        return lab["units"].get(code, code)

    counted = ("overdue", "open", "fulfilled_late", "discharged", "violations")
    veto = lambda u, basis: escalations.get(u, {}).get(("one_vote_veto", basis), 0)  # noqa: E731
    order = sorted(set(per_unit) | set(escalations),
                   key=lambda u: (-per_unit[u]["overdue"], -veto(u, "determined"), -veto(u, "proposed"), u))
    rows = [(name(unit), *(str(per_unit[unit][k]) for k in counted),
             *(by_basis(escalations[unit], lv, lab, lang, "\n") for lv in LEVELS))
            for unit in order if any(per_unit[unit][k] for k in counted) or any(escalations[unit].values())]
    table = Table(title=t["by_unit"])
    table.add_column(t["unit"])  # as wide as the terminal allows; a long name wraps (rich cut the last columns off)
    for key in ("overdue", "open", "late", "discharged", "violations_short", "notices"):
        table.add_column(t[key], justify="right")
    for i, key in enumerate(("criticism", "veto"), start=7):
        # a count and its basis are never cut (one basis a line): the column is as wide as its widest line
        widest = max([cell_len(line) for r in rows for line in r[i].splitlines()] + [cell_len(t[key])])
        table.add_column(t[key], justify="right", min_width=widest)
    add_rows(table, rows)

    def listed(title: str, columns: list[tuple[str, int | None]], rows: list[tuple[str, ...]]) -> None:
        """A list of findings: an id, then `columns` (header, max width), the article's just before the
        rule or duty it belongs to. Where a word would be cut, the article goes on the first line of
        that title's cell instead, and its column (8 cells) to the words."""

        def table(cols: list[tuple[str, int | None]]) -> Table:
            tab = Table(title=title)
            tab.add_column("id", no_wrap=True)
            for col, cap in cols:
                tab.add_column(col, no_wrap=col in (t["article"], t["at"], t["due"]), max_width=cap)
            return tab

        tab = table(columns)
        if not words_fit(tab, rows, console.width):
            c = [header for header, _ in columns].index(t["article"])
            (named, cap), a = columns[c + 1], c + 1  # the title after it; in a row, both come after the id
            tab = table([*columns[:c], (f"{t['article']}\n{named}", cap), *columns[c + 2:]])
            rows = [(*row[:a], f"{row[a]}\n{row[a + 1]}", *row[a + 2:]) for row in rows]
        add_rows(tab, rows)

    # the most serious first: a check skipped before the act, a prohibited act, an improper fulfilment
    serious = sorted((v for v in findings.violations if v.kind != "overdue"), key=lambda v: (v.at, v.id))
    if serious:
        listed(t["other_violations"],
               [(t["kind"], 14), (t["unit"], 16), (t["article"], None), (t["rule_title"], None), (t["subject"], 14),
                (t["at"], None)],
               [(v.id, lab["kind"].get(v.kind, v.kind), name(v.unit), article_label(v.article, lang),
                 lab["rules"].get(v.rule, v.rule), v.subject or v.period or "—", when(v.at)) for v in serious])
    overdue = [o for o in findings.obligations if o.status == "overdue"]
    if overdue:  # each by the id of its overdue violation (whose explanation holds the obligation)
        violation_of = {v.obligation: v.id for v in findings.violations if v.kind == "overdue" and v.obligation}
        listed(t["overdue_duties"],
               [(t["unit"], 16), (t["article"], None), (t["duty"], None), (t["subject"], 14), (t["due"], None)],
               [(violation_of.get(o.id, o.id), name(o.duty_bearer), article_label(o.article, lang),
                 lab["actions"].get(o.action, o.action), o.subject or o.period or "—", when(o.due))
                for o in sorted(overdue, key=lambda o: (o.duty_bearer, o.due or 0))])
    if findings.escalations:
        tab = Table(title=t["escalations"], caption=basis_note(ruleset, lang))
        shown = [escalation_label(lab, e.level, e.basis, lang) for e in findings.escalations]
        if console.width < 110 and lang != "zh":  # the basis goes whole on a line of its own
            shown = [label.replace(" (", "\n(") for label in shown]
        tab.add_column("id", no_wrap=True)
        tab.add_column(t["at"], no_wrap=True)
        widest = max(cell_len(line) for label in shown for line in label.splitlines())
        tab.add_column(t["level"], min_width=widest)  # never cut: the basis is in the label
        for col in (t["unit"], t["issued_by"], t["article"], t["period"]):
            tab.add_column(col, no_wrap=col in (t["period"], t["article"]))
        add_rows(tab, [(e.id, when(e.at), label, name(e.unit), name(e.issued_by), article_label(e.article, lang), e.period)
                       for e, label in zip(findings.escalations, shown, strict=True)])
    if findings.rejected:
        tab = Table(title=t["rejected_events"])
        for col in (t["file"], t["line"], "id", t["error"]):
            tab.add_column(col)
        for r in findings.rejected:
            tab.add_row(r.file, str(r.line), r.id or "—", r.error)
        console.print(tab)
    if explain_hint and (findings.obligations or findings.violations or findings.escalations):
        console.print(t["explain_hint"], markup=False)
        console.print("  " + explain_hint, markup=False, soft_wrap=True)
