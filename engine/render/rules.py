"""`oblige rules list` and `oblige rules show` for people, in one language.

The rule as data is `engine.rules.catalogue.describe` (codes, and both readings, as a program
wants them); this module only lays it out, so that cli.py chooses and prints but never formats.
"""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

from oblige.engine.render.coverage import WORDS as COVERAGE_WORDS
from oblige.engine.render.i18n import article_label
from oblige.engine.render.labels import escalation_label, labels, parameter_words
from oblige.engine.rules.catalogue import coverage, describe
from oblige.engine.rules.ruleset import Located, Ruleset

# the fields of a rule in the order a reader of the article meets them
FIELDS = ("clause", "action", "duty_bearer", "trigger", "fulfilled_by", "deadline", "discharged_by", "act", "charged",
          "while_open", "reading")
# field names as labels: en keeps the field names (as the YAML spells them); zh names them in words
LABELS = {"zh": {"clause": "条文", "action": "事项", "duty_bearer": "义务主体", "trigger": "触发条件",
                 "fulfilled_by": "履行方式", "deadline": "期限", "discharged_by": "事由消除", "act": "行为",
                 "charged": "责任单位", "while_open": "适用期间", "reading": "解读", "parameters": "参数"},
          "en": {}}
KINDS = {"zh": {"obligation": "义务", "prohibition": "禁止行为", "breach": "履职不当"}, "en": {}}
LABEL_WIDTH = 15  # terminal columns of a label with its colon (a Chinese character takes two)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def label(key: str, lang: str) -> str:
    """A field's label with its colon, padded to LABEL_WIDTH columns: `deadline:      `, `期限：        `."""
    text = LABELS[lang][key] + "：" if key in LABELS[lang] else key + ":"
    return text + " " * max(0, LABEL_WIDTH - _width(text))


def reading(d: dict[str, Any], lang: str) -> str | None:
    """The reading in `lang` only: the Chinese one under zh, the English one under en (a ruleset
    has both or neither, checked by `rules validate`)."""
    return d.get("reading_zh") if lang == "zh" else d.get("reading")


def list_line(d: dict[str, Any], lang: str) -> str:
    """One line of `rules list`: id, article, kind, action and the title in `lang`."""
    return f"{d['id']:<44} art.{d['article']:<3} {d['kind']:<11} {d.get('action', '-'):<40} {d['title'][lang]}"


def rule_list(ruleset: Ruleset, article: int | None, lang: str) -> list[str]:
    """`rules list`: a line per rule, those of `article` only when one is given."""
    return [list_line(describe(located), lang) for located in ruleset.rules
            if article is None or located.article == article]


def rule_text(located: Located, ruleset: Ruleset, lang: str) -> str:
    """`rules show`: a rule as a reader of the article sees it, with its quoted clause, its reading
    and its parameters (the code, then title, value, basis and reason in `lang`)."""
    d = describe(located, ruleset, lang)
    values = {key: d[key] for key in FIELDS if key in d}
    if "reading" in values:
        values["reading"] = reading(d, lang)
    kind = KINDS[lang].get(d["kind"], d["kind"])
    head = (f"{d['id']}  （{article_label(d['article'], lang)}，{kind}）" if lang == "zh" else
            f"{d['id']}  ({article_label(d['article'], lang)}, {kind})")
    lines = [f"{head}  {_shown(d['file'])}:{d['line']}", f"  {d['title'][lang]}"]
    lines += [f"  {label(key, lang)}{value}" for key, value in values.items()]
    if d["parameters"]:
        lines.append("  " + label("parameters", lang).rstrip())
        for p in d["parameters"]:
            words = parameter_words(ruleset, p["name"], lang)
            lines.append(f"    {p['name']}: {words['title']} = {words['value']} — {words['basis']}: {words['reason']}")
    return "\n".join(lines) + "\n"


_ARTICLE = re.compile(r"(?:art(?:icle)?\.?\s*|第\s*)?(\d{1,3})\s*条?", re.IGNORECASE)
LADDER = {"zh": "升级阶梯（ruleset.yaml escalation）：", "en": "the escalation ladder (ruleset.yaml, escalation): "}


def article_of(reference: str) -> int | None:
    """The article a reference names, as its readers write it: 20, art20, Art. 20, article 20, 第20条.

    >>> [article_of(r) for r in ("20", "art20", "Art. 20", "第20条", "art20.compare_dna_before_registration")]
    [20, 20, 20, 20, None]
    """
    found = _ARTICLE.fullmatch(reference.strip())
    return int(found.group(1)) if found else None


def article_text(ruleset: Ruleset, article: int, lang: str) -> str | None:
    """`rules show` of an article: each of its rules as `rule_text` shows it, the escalation steps it
    grounds, or why it holds no checkable duty (as `rules coverage` says), and what of it is not
    modelled; None for an article the rules do not have."""
    rows = coverage(ruleset, lang)
    if not 1 <= article <= len(rows):
        return None
    row, words = rows[article - 1], COVERAGE_WORDS[lang]
    parts = [rule_text(located, ruleset, lang) for located in ruleset.rules if located.article == article]
    steps = [code.removeprefix("escalation.") for code in row["rules"] if code.startswith("escalation.")]
    if steps:
        lab, ladder = labels(ruleset, lang), ruleset.header.escalation
        parts.append(f"{article_label(article, lang)}  {LADDER[lang]}"
                     + ("、" if lang == "zh" else ", ").join(
                         escalation_label(lab, step, getattr(ladder, step).basis, lang) for step in steps) + "\n")
    if not parts:
        parts.append(f"{article_label(article, lang)}  {words['none']}{row['reason'] or ''}\n")
    left_out = [f"  {words['left_out']}{item['what']}" + (f"「{item['clause']}」" if item["clause"] else "") + "\n"
                for item in row["not_modelled"]]
    return "\n".join(parts) + "".join(left_out)  # a blank line between rules, as between articles' texts


def _shown(file: str) -> str:
    """A rule file as its reader would type it: relative to the working directory when it lies under
    it, as compilers and linters print paths (short enough for a narrow terminal), else as loaded."""
    try:
        return str(Path(file).relative_to(Path.cwd()))
    except ValueError:
        return file
