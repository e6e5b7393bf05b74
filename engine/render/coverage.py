"""`oblige rules coverage` for people: every article, the rules that encode it or why none does,
and what the ruleset deliberately leaves out, in one language."""
from __future__ import annotations

from oblige.engine.render.i18n import article_label
from oblige.engine.rules.catalogue import coverage
from oblige.engine.rules.ruleset import Ruleset

WORDS = {
    "zh": {"none": "（无可核查职责）", "left_out": "未建模：", "total": "{accounted}/{articles} 条均已说明",
           "gaps": "；未建模事项 {gaps} 项"},
    "en": {"none": "(no checkable duty) ", "left_out": "not modelled: ", "total": "{accounted}/{articles} articles accounted for",
           "gaps": "; {gaps} item(s) deliberately not modelled"},
}


def coverage_text(ruleset: Ruleset, lang: str) -> str:
    words = WORDS[lang]
    rows = coverage(ruleset, lang)
    lines = []
    for row in rows:
        head = f"{article_label(row['article'], lang)}  " if lang == "zh" else f"Art. {row['article']:>2}  "
        lines.append(head + (", ".join(row["rules"]) if row["rules"] else f"{words['none']}{row['reason']}"))
        for item in row["not_modelled"]:
            lines.append("    " + words["left_out"] + item["what"] + (f"「{item['clause']}」" if item["clause"] else ""))
    accounted = sum(1 for r in rows if r["rules"] or r["reason"])
    gaps = sum(len(r["not_modelled"]) for r in rows)
    lines.append(words["total"].format(accounted=accounted, articles=len(rows))
                 + words["gaps"].format(gaps=gaps))
    return "\n".join(lines) + "\n"
