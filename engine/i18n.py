"""Words of the human-facing formats in Chinese and English; codes stay codes in JSON.

Unit names, duty titles, statuses, violation kinds and escalation levels are ruleset data
(units.yaml, rule titles, ruleset.yaml labels and ladder titles); this module holds only the
words of the report frame and the date style.
"""
from __future__ import annotations

from facts.timeutil import from_us

UI: dict[str, dict[str, str]] = {
    "zh": {"title": "反拐工作成员单位履职审计", "as_of": "截至", "receipt": "凭证", "summary": "各单位汇总",
           "unit": "单位", "obligations": "应履行事项", "violations": "违规事项", "escalations": "督办问责",
           "matrix": "单位履职情况表", "due": "期限", "article": "条款", "kind": "类型", "duty": "事项",
           "period": "期间", "at": "时间", "remedied": "纠正时间", "clause": "条文", "level": "级别",
           "issued_by": "发出单位", "rejected": "被拒绝的记录", "line": "行", "error": "原因",
           "art_prefix": "第", "art_suffix": "条"},
    "en": {"title": "Audit of member units' duties", "as_of": "as of", "receipt": "receipt", "summary": "Summary by unit",
           "unit": "Unit", "obligations": "Obligations", "violations": "Violations", "escalations": "Escalations",
           "matrix": "Duties by unit,", "due": "due", "article": "Art.", "kind": "Kind", "duty": "Duty",
           "period": "Period", "at": "At", "remedied": "Remedied", "clause": "Clause", "level": "Level",
           "issued_by": "Issued by", "rejected": "Rejected records", "line": "Line", "error": "Reason",
           "art_prefix": "Art. ", "art_suffix": ""},
}


def format_date(us: int | None, lang: str) -> str:
    """A date as people there write it: 2023年3月31日 in zh, 2023-03-31 in en."""
    if us is None:
        return ""
    d = from_us(us)
    return f"{d.year}年{d.month}月{d.day}日" if lang == "zh" else d.strftime("%Y-%m-%d")
