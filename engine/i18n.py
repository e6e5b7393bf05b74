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
           "art_prefix": "第", "art_suffix": "条",
           "by_unit": "各单位情况", "overdue_duties": "逾期未履行事项", "rejected_events": "被拒绝的事件",
           "name": "名称", "overdue": "逾期", "open": "待办", "late": "迟办", "notices": "督办",
           "criticism": "通报", "veto": "否决", "violations_short": "违规", "subject": "对象/期间", "file": "文件",
           "headline": "{name} 截至 {as_of}：事件 {events} 条（重复 {duplicates}，拒绝 {rejected}，生效前 {before}，"
                       "截止后 {after}）；应履行事项 {obligations} 项（待履行 {open}，已履行 {fulfilled}，逾期履行 {late}，"
                       "逾期未履行 {overdue}），违规 {violations} 项，督办问责 {escalations} 项"},
    "en": {"title": "Audit of member units' duties", "as_of": "as of", "receipt": "receipt", "summary": "Summary by unit",
           "unit": "Unit", "obligations": "Obligations", "violations": "Violations", "escalations": "Escalations",
           "matrix": "Duties by unit,", "due": "due", "article": "Art.", "kind": "Kind", "duty": "Duty",
           "period": "Period", "at": "At", "remedied": "Remedied", "clause": "Clause", "level": "Level",
           "issued_by": "Issued by", "rejected": "Rejected records", "line": "Line", "error": "Reason",
           "art_prefix": "Art. ", "art_suffix": "",
           "by_unit": "By unit", "overdue_duties": "Overdue duties", "rejected_events": "Rejected events",
           "name": "name", "overdue": "overdue", "open": "open", "late": "late", "notices": "notice",
           "criticism": "critic.", "veto": "veto", "violations_short": "viol.", "subject": "subject/period", "file": "file",
           "headline": "{name} as of {as_of}: {events} events ({duplicates} duplicate, {rejected} rejected, "
                       "{before} before effective, {after} after as-of); {obligations} obligations ({open} open, "
                       "{fulfilled} fulfilled, {late} late, {overdue} overdue), {violations} violations, "
                       "{escalations} escalations"},
}


def format_date(us: int | None, lang: str) -> str:
    """A date as people there write it: 2023年3月31日 in zh, 2023-03-31 in en."""
    if us is None:
        return ""
    d = from_us(us)
    return f"{d.year}年{d.month}月{d.day}日" if lang == "zh" else d.strftime("%Y-%m-%d")


PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "after": "triggered at {start} = {event} + {param} ({value}), with no {types} by then",
        "within": "due = {base} {start} + {param} ({value}) = {due}",
        "base_trigger": "trigger", "base_effective": "effective instant",
        "date": "due = {param} ({value}) of {period} at 23:59:59, never earlier than effective + {grace} ({grace_value}) → {due}",
        "end_of_period": "due = last day of {period} at 23:59:59, never earlier than effective + {grace} → {due}",
        "before": "must precede {type}: due is the earlier of the above and the first {type} → {due}",
        "no_deadline": "no deadline: a required action that stays open until fulfilled",
        "st_fulfilled": "fulfilled by {id} at {at}", "st_fulfilled_due": ", at or before the due instant {due}",
        "st_fulfilled_late": "fulfilled late by {id} at {at}, after the due instant {due}",
        "st_overdue": "overdue: as of {as_of} no fulfilling event occurred at or before {due}",
        "st_open": "open: as of {as_of} not yet fulfilled", "st_open_due": "; due {due}",
        "k_overdue": "the due instant passed with no fulfilling event at or before it",
        "k_precondition": "the act the duty had to precede happened before any fulfilling event",
        "k_prohibited": "the act is prohibited by the clause quoted",
        "k_breach": "the duty was performed in a way the clause does not allow",
        "remedied": "; remedied at {at}",
        "l_supervision_notice": "every violation charged to a district unit gets a supervision notice at its instant (Art. {article})",
        "l_public_criticism": "an overdue or precondition violation still unremedied {after} ({value}) after it, "
                              "or an enforcement-failure assessment (Art. {article})",
        "l_one_vote_veto": "at most one flag per unit and year: an enforcement-failure assessment, or at {at} ({value}) "
                           "23:59:59 a violation criticised that year and still unremedied; the earliest counts (Art. {article})",
        "h_obligation": "obligation {id}: {bearer} must {duty}", "h_subject": " for {subject}", "h_period": " for period {period}",
        "h_violation": "violation {id} ({kind}) charged to {unit} at {at}",
        "h_escalation": "escalation {id}: {level} against {unit}, issued by {issuer} at {at}, period {period}",
        "h_assessment": "assessment {id} ({type}) at {at}: target {target}, year {year}",
        "rule": "rule {rule} — Art. {article}: 「{clause}」", "triggered_by": "triggered by {id} {type} at {at}",
        "evidence": "evidence {id} {type} at {at}", "why": "why: {text}",
    },
    "zh": {
        "after": "触发时间 {start} = {event} + {param}（{value}），期间未发生 {types}",
        "within": "期限 = {base} {start} + {param}（{value}）= {due}",
        "base_trigger": "触发时间", "base_effective": "生效时间",
        "date": "期限 = {period}年 {param}（{value}）23:59:59，且不早于生效时间 + {grace}（{grace_value}）→ {due}",
        "end_of_period": "期限 = {period} 最后一日 23:59:59，且不早于生效时间 + {grace} → {due}",
        "before": "须先于 {type}：期限取上述期限与首个 {type} 发生时间中较早者 → {due}",
        "no_deadline": "无期限：履行之前一直为待履行",
        "st_fulfilled": "已由 {id} 于 {at} 履行", "st_fulfilled_due": "，未超过期限 {due}",
        "st_fulfilled_late": "由 {id} 于 {at} 逾期履行（期限 {due}）",
        "st_overdue": "逾期未履行：截至 {as_of}，期限 {due} 之前没有履行事件",
        "st_open": "待履行：截至 {as_of} 尚未履行", "st_open_due": "；期限 {due}",
        "k_overdue": "期限届满，期限前没有履行事件",
        "k_precondition": "应在其之前完成的前置核查尚未完成，该行为即已发生",
        "k_prohibited": "该行为为所引条文所禁止",
        "k_breach": "履职方式不符合所引条文的要求",
        "remedied": "；已于 {at} 纠正",
        "l_supervision_notice": "对区属单位的每项违规，于违规发生时发出督办通知（第{article}条）",
        "l_public_criticism": "逾期或前置程序违规在其后 {after}（{value}）仍未纠正，或考核认定防控打击不力、"
                              "未切实履行职责的，予以通报批评（第{article}条）",
        "l_one_vote_veto": "每个单位每年至多一次：考核认定履职不力，或于 {at}（{value}）23:59:59 当年被通报批评的违规"
                           "仍未纠正，以较早者为准（第{article}条）",
        "h_obligation": "应履行事项 {id}：{bearer} 应「{duty}」", "h_subject": "（对象 {subject}）", "h_period": "（期间 {period}）",
        "h_violation": "违规 {id}（{kind}）：{unit}，{at}",
        "h_escalation": "督办问责 {id}：{level}，对象 {unit}，由 {issuer} 于 {at} 发出，年度 {period}",
        "h_assessment": "考核 {id}（{type}），{at}：对象 {target}，年度 {year}",
        "rule": "规则 {rule} — 第{article}条：「{clause}」", "triggered_by": "触发事件 {id} {type}，{at}",
        "evidence": "证据事件 {id} {type}，{at}", "why": "理由：{text}",
    },
}
