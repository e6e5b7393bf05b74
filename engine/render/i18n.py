"""Words of the human-facing formats in Chinese and English; codes stay codes in JSON.

Unit names, duty titles, statuses, violation kinds, escalation levels and bases and the audit
report's title are ruleset data (units.yaml, rule titles, ruleset.yaml labels and ladder titles,
audit.yaml); this module holds only the words of the report frame and the date style.
"""
from __future__ import annotations

import re
from typing import Any

from oblige.facts.timeutil import format_instant, from_us

UI: dict[str, dict[str, str]] = {
    "zh": {"as_of": "截至", "receipt": "凭证", "summary": "各单位汇总",
           "unit": "单位", "obligations": "应履行事项", "violations": "违规事项", "escalations": "督办问责",
           "matrix": "单位履职情况表", "due": "期限", "article": "条款", "kind": "类型", "duty": "事项",
           "period": "期间", "at": "时间", "remedied": "纠正时间", "clause": "条文", "level": "级别",
           "issued_by": "发出单位", "rejected": "被拒绝的记录", "line": "行", "error": "原因",
           "by_unit": "各单位情况", "overdue_duties": "逾期未履行事项", "rejected_events": "被拒绝的事件",
           "name": "名称", "overdue": "逾期", "open": "待办", "late": "迟办", "notices": "督办",
           "criticism": "通报", "veto": "否决", "violations_short": "违规", "subject": "对象/期间", "file": "文件",
           "discharged": "消除", "other_violations": "跳过的前置核查、禁止行为和履职不当", "rule_title": "规则",
           "explain_hint": "查看某项的依据和推理（ID 为上表中的 id）：",
           "p_events": "正在读取事件", "p_stored": "正在读取已存储的事件", "p_records": "正在读取单位台账",
           "p_read": "已读取 {n:,} 条", "p_evaluating": "正在评估", "p_storing": "正在存储事件", "p_writing": "正在评估并写出结果",
           "p_keeping": "正在更新已保存的结论", "p_kept": "已推导 {n:,} 个分区",
           "agenda": "{unit} 待办事项（{start} 至 {end} 到期）", "agenda_then": "逾期后", "agenda_none": "此期间没有到期的待办事项。",
           "p_partitions": "已评估 {n:,} 个分区",  # a partition: one subject's events, or one unit's
           # filled from the ladder (labels.basis_note): levels, the deciding unit and the basis label
           "basis_note": "{by_rule}依规发出；{proposed_levels}由{decider}考核决定，本表“{proposed}”仅为向其提出的建议。",
           "headline": "{name} 截至 {as_of}：事件 {events} 条（重复 {duplicates}，拒绝 {rejected}，生效前 {before}，"
                       "截止后 {after}）；应履行事项 {obligations} 项（待履行 {open}，已履行 {fulfilled}，逾期履行 {late}，"
                       "逾期未履行 {overdue}，事由消除 {discharged}），违规 {violations} 项，督办问责 {escalations} 项"
                       "（依规督办 {rule}，建议 {proposed}，决定 {determined}，未采纳 {declined}）"},
    "en": {"as_of": "as of", "receipt": "receipt", "summary": "Summary by unit",
           "unit": "Unit", "obligations": "Obligations", "violations": "Violations", "escalations": "Escalations",
           "matrix": "Duties by unit,", "due": "due", "article": "Art.", "kind": "Kind", "duty": "Duty",
           "period": "Period", "at": "At", "remedied": "Remedied", "clause": "Clause", "level": "Level",
           "issued_by": "Issued by", "rejected": "Rejected records", "line": "Line", "error": "Reason",
           "by_unit": "By unit", "overdue_duties": "Overdue duties", "rejected_events": "Rejected events",
           "name": "name", "overdue": "overdue", "open": "open", "late": "late", "notices": "notice",
           "criticism": "critic.", "veto": "veto", "violations_short": "viol.", "subject": "subject / period", "file": "file",
           "discharged": "disch.", "other_violations": "Skipped checks, prohibited acts and breaches",
           "rule_title": "Rule", "explain_hint": "To see why a finding exists (ID: an id above):",
           "p_events": "reading events", "p_stored": "reading the stored events", "p_records": "reading unit records",
           "p_read": "{n:,} read", "p_evaluating": "evaluating", "p_storing": "storing events",
           "p_writing": "evaluating and writing the document", "p_partitions": "{n:,} partitions evaluated",
           "p_keeping": "bringing the kept findings up to date", "p_kept": "{n:,} partitions derived",
           "agenda": "What falls due for {unit} ({start} to {end})", "agenda_then": "if left undone",
           "agenda_none": "Nothing falls due in this window.",
           "basis_note": "By rule: {by_rule}. Decided by {decider} in its assessment: {proposed_levels}; "
                         "'{proposed}' is only a recommendation to it.",
           "headline": "{name} as of {as_of}: {events} events ({duplicates} duplicate, {rejected} rejected, "
                       "{before} before effective, {after} after as-of); {obligations} obligations ({open} open, "
                       "{fulfilled} fulfilled, {late} late, {overdue} overdue, {discharged} discharged), "
                       "{violations} violations, {escalations} escalations ({rule} by rule, {proposed} proposed, "
                       "{determined} determined, {declined} declined)"},
}


# the audit CSV under --lang zh (the en CSV keeps codes beside its English labels)
CSV_HEADER_ZH = ["单位", "事项", "条款", "期间", "对象", "期限", "状态", "履行时间", "督办问责"]

_DIGITS = "零一二三四五六七八九"


def chinese_numeral(n: int) -> str:
    """A whole number 0-9999 as written in a Chinese legal text.

    >>> [chinese_numeral(n) for n in (4, 10, 16, 20, 38, 100, 105, 110, 2030)]
    ['四', '十', '十六', '二十', '三十八', '一百', '一百零五', '一百一十', '二千零三十']
    """
    if not 0 <= n <= 9999:
        raise ValueError(f"no Chinese numeral here for {n}")
    if n < 10:
        return _DIGITS[n]
    if n < 20:
        return "十" + (_DIGITS[n - 10] if n > 10 else "")
    out, zero = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = n // value % 10
        if digit:
            out += ("零" if zero and out else "") + _DIGITS[digit] + unit
            zero = False
        elif out:
            zero = True
    return out


def article_label(article: int, lang: str) -> str:
    """An article as its readers cite it: 第三十八条 in zh, Art. 38 in en.

    >>> article_label(4, "zh"), article_label(20, "zh"), article_label(38, "zh"), article_label(38, "en")
    ('第四条', '第二十条', '第三十八条', 'Art. 38')
    """
    return f"第{chinese_numeral(article)}条" if lang == "zh" else f"Art. {article}"


def format_date(us: int | None, lang: str) -> str:
    """A date as people there write it: 2023年3月31日 in zh, 2023-03-31 in en."""
    if us is None:
        return ""
    d = from_us(us)
    return f"{d.year}年{d.month}月{d.day}日" if lang == "zh" else d.strftime("%Y-%m-%d")


def format_when(us: int | None, lang: str) -> str:
    """An instant as the tables write it: 2023年3月31日 23:59 in zh, 2023-03-31 23:59 in en."""
    return when_text(format_instant(us), lang)


def when_text(iso: str | None, lang: str) -> str:
    """An instant of a findings document (ISO, zone offset included) as the tables write it.

    >>> when_text("2023-03-31T23:59:59+08:00", "zh"), when_text("2023-03-31T23:59:59+08:00", "en")
    ('2023年3月31日 23:59', '2023-03-31 23:59')
    """
    if not iso:
        return "—"
    if lang == "zh":
        return f"{int(iso[:4])}年{int(iso[5:7])}月{int(iso[8:10])}日 {iso[11:16]}"
    return iso[:16].replace("T", " ")


_ISO_PART = re.compile(r"(\d+(?:\.\d+)?)([WDHMS])")
_UNITS = {"zh": {"W": "周", "D": "日", "H": "小时", "m": "分钟", "S": "秒"},
          "en": {"W": "week", "D": "day", "H": "hour", "m": "minute", "S": "second"}}
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def format_duration(text: str, lang: str) -> str:
    """An ISO 8601 duration as people say it.

    >>> [format_duration(d, "zh") for d in ("P30D", "PT24H", "P1DT12H", "P2W", "PT30M")]
    ['30日', '24小时', '1日12小时', '2周', '30分钟']
    >>> [format_duration(d, "en") for d in ("P30D", "PT24H", "P1DT12H", "P1D", "PT30M")]
    ['30 days', '24 hours', '1 day 12 hours', '1 day', '30 minutes']
    """
    date, _, time = text[1:].partition("T")
    parts = _ISO_PART.findall(date) + [(n, "m" if u == "M" else u) for n, u in _ISO_PART.findall(time)]
    if not parts:
        return text
    if lang == "zh":
        return "".join(f"{n}{_UNITS['zh'][u]}" for n, u in parts)
    return " ".join(f"{n} {_UNITS['en'][u]}{'' if n == '1' else 's'}" for n, u in parts)


def format_value(kind: str, raw: Any, lang: str) -> str:
    """A parameter's value as people read it: 30日 / 30 days, 5个工作日 / 5 working days,
    3月31日 / 31 March, 14.

    >>> format_value("duration", {"working_days": 5}, "zh"), format_value("duration", {"working_days": 1}, "en")
    ('5个工作日', '1 working day')
    >>> format_value("month_day", "03-31", "zh"), format_value("month_day", "12-31", "en"), format_value("integer", 14, "zh")
    ('3月31日', '31 December', '14')
    """
    if isinstance(raw, dict) and "working_days" in raw:
        n = raw["working_days"]
        return f"{n}个工作日" if lang == "zh" else f"{n} working day{'' if n == 1 else 's'}"
    if kind == "duration" and isinstance(raw, str):
        return format_duration(raw, lang)
    if kind == "month_day" and isinstance(raw, str) and re.fullmatch(r"\d{2}-\d{2}", raw):
        month, day = int(raw[:2]), int(raw[3:])
        return f"{month}月{day}日" if lang == "zh" else f"{day} {_MONTHS[month - 1]}"
    return str(raw)


def format_period(period: str | None, lang: str) -> str:
    """A period of a duty: 2023年 / 2023, 2023年第一季度 / 2023 Q1.

    >>> format_period("2023", "zh"), format_period("2023-Q1", "zh"), format_period("2023-Q4", "en")
    ('2023年', '2023年第一季度', '2023 Q4')
    """
    if not period:
        return ""
    year, _, quarter = period.partition("-Q")
    if lang == "zh":
        return f"{year}年" + (f"第{chinese_numeral(int(quarter))}季度" if quarter else "")
    return year + (f" Q{quarter}" if quarter else "")


PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "after": "triggered at {start} = {event} + {param} ({value}), with no {types} by then",
        "within": "due = {base} {start} + {param} ({value}) = {due}",
        "base_trigger": "trigger", "base_effective": "effective instant",
        "date": "due = {param} ({value}) of {period} at 23:59:59, never earlier than effective + {grace} ({grace_value}) → {due}",
        "date_next": "due = {param} ({value}) of the year after {period} at 23:59:59 → {due}",
        "extended": "extended by {id} “{type}” at {at}: due = {first} + {param} ({value}) = {due}",
        "estimated": "the due date was estimated (Monday–Friday): the working days run beyond the years of the official "
                     "calendar ({calendar})",
        "end_of_period": "due = last day of {period} at 23:59:59, never earlier than effective + {grace} ({grace_value}) → {due}",
        "before": "must precede {type}: due is the earlier of the above and the first {type} → {due}",
        "no_deadline": "no deadline: a required action that stays open until fulfilled",
        "st_fulfilled": "fulfilled by {id} at {at}", "st_fulfilled_due": ", at or before the due instant {due}",
        "st_fulfilled_late": "fulfilled late by {id} at {at}, after the due instant {due}",
        "st_overdue": "overdue: as of {as_of} no fulfilling event occurred at or before {due}",
        "st_open": "open: as of {as_of} not yet fulfilled", "st_open_due": "; due {due}",
        "st_discharged": "discharged: its reason ceased{what} before the due instant {due}; no violation",
        "event": "{id} “{type}”", "by_event": " ({event} at {at})",
        "param": "parameter {title} = {value} — {basis}: {reason}",
        "pb_text": "set by the text", "pb_statute": "statute", "pb_policy": "policy",
        "k_overdue": "the due instant passed with no fulfilling event at or before it",
        "k_precondition": "the act the duty had to precede happened before any fulfilling event",
        "k_prohibited": "the act is prohibited by the clause quoted",
        "k_breach": "the duty was performed in a way the clause does not allow",
        "remedied": "; remedied at {at}",
        "l_supervision_notice": "by rule: every violation charged to {charged} gets a {level} at its instant ({article})",
        "members": "a member unit", "or": " or ",
        "l_public_criticism": "an overdue or precondition violation still unremedied {value} after it ({after}), or a "
                              "prohibited act or breach at its instant ({article})",
        "l_one_vote_veto": "at most one per unit and year: at 23:59:59 of {value} ({at}) of the year, or at a later proposed "
                           "criticism of that year, a violation still unremedied ({article})",
        "b_proposed": "; PROPOSED only: a recommendation to {issuer}, which decides in its assessment of {period} — "
                      "not a decision",
        "b_determined": "DETERMINED by {issuer} in its assessment (the event below), which lists this measure ({article}); "
                        "it replaces any proposal of the same level, unit and year",
        "b_declined": "; DECLINED: the assessment of {period} was completed{event} without taking up this proposal",
        "h_obligation": "obligation {id}: {bearer} must “{duty}”", "h_subject": " for {subject}", "h_period": " for {period}",
        "h_once": " (once)",
        "h_violation": "violation {id} ({kind}) charged to {unit} at {at}",
        "h_escalation": "escalation {id}: {level} against {unit}, issued by {issuer} at {at}, period {period}",
        "h_escalation_proposal": "escalation {id}: {level} against {unit}, proposed to {issuer} at {at}, period {period}",
        "h_assessment": "assessment {event} at {at}: target {target}, year {year}",
        "h_assessment_finding": ", finding: {finding}, measures: {measures}",
        "rule": "rule “{title}” — {article}: 「{clause}」", "rule_basis": "{article}: 「{clause}」",
        "triggered_by": "triggered by {event} at {at}",
        "evidence": "evidence {event} at {at}", "why": "why: {text}",
    },
    "zh": {
        "after": "触发时间 {start} = {event} + {param}（{value}），期间未发生{types}",
        "within": "期限 = {base} {start} + {param}（{value}）= {due}",
        "base_trigger": "触发时间", "base_effective": "生效时间",
        "date": "期限 = {period}的{param}（{value}）23:59:59，且不早于生效时间 + {grace}（{grace_value}）→ {due}",
        "date_next": "期限 = {period}的次年{param}（{value}）23:59:59 → {due}",
        "extended": "经 {id}「{type}」（{at}）延长：期限 = {first} + {param}（{value}）= {due}",
        "estimated": "该期限为估算（按周一至周五计）：所计工作日超出法定节假日安排所覆盖的年份（{first}—{last}年）",
        "end_of_period": "期限 = {period}最后一日 23:59:59，且不早于生效时间 + {grace}（{grace_value}）→ {due}",
        "before": "须先于{type}：期限取上述期限与首次{type}发生时间中较早者 → {due}",
        "no_deadline": "无期限：履行之前一直为待履行",
        "st_fulfilled": "已由 {id} 于 {at} 履行", "st_fulfilled_due": "，未超过期限 {due}",
        "st_fulfilled_late": "由 {id} 于 {at} 逾期履行（期限 {due}）",
        "st_overdue": "逾期未履行：截至 {as_of}，期限 {due} 之前没有履行事件",
        "st_open": "待履行：截至 {as_of} 尚未履行", "st_open_due": "；期限 {due}",
        "st_discharged": "事由消除：期限 {due} 之前其事由已消除{what}，不构成违规",
        "event": "{id}「{type}」", "by_event": "（{event}，{at}）",
        "param": "参数 {title} = {value} — {basis}：{reason}",
        "pb_text": "条文规定", "pb_statute": "法律法规规定", "pb_policy": "本规则取值",
        "k_overdue": "期限届满，期限前没有履行事件",
        "k_precondition": "应在其之前完成的前置核查尚未完成，该行为即已发生",
        "k_prohibited": "该行为为所引条文所禁止",
        "k_breach": "履职方式不符合所引条文的要求",
        "remedied": "；已于 {at} 纠正",
        "l_supervision_notice": "依规督办：{charged}的每项违规，于违规发生时发出{level}（{article}）",
        "members": "成员单位", "or": "或",
        "l_public_criticism": "逾期或前置程序违规在其后{value}（{after}）仍未纠正，或禁止行为、履职不当发生时（{article}）",
        "l_one_vote_veto": "每个单位每年至多一次：于当年{value}（{at}）23:59:59，或当年其后被建议通报批评时，"
                           "违规仍未纠正（{article}）",
        "b_proposed": "；仅为建议：提请{issuer}在{period}年度考核中决定，并非决定",
        "b_determined": "已决定：{issuer}在考核中认定并列明此项措施（见下方考核事件，{article}）；"
                        "同一级别、单位和年度的建议由此取代",
        "b_declined": "；未采纳：{period}年度考核已完成{event}，未采纳此项建议",
        "h_obligation": "应履行事项 {id}：{bearer} 应「{duty}」", "h_subject": "（对象 {subject}）", "h_period": "（期间 {period}）",
        "h_once": "（一次性）",
        "h_violation": "违规 {id}（{kind}）：{unit}，{at}",
        "h_escalation": "督办问责 {id}：{level}，对象 {unit}，由 {issuer} 于 {at} 发出，年度 {period}",
        "h_escalation_proposal": "督办问责 {id}：{level}，对象 {unit}，于 {at} 提请 {issuer} 决定，年度 {period}",
        "h_assessment": "考核 {event}，{at}：对象 {target}，年度 {year}",
        "h_assessment_finding": "，认定「{finding}」，措施：{measures}",
        "rule": "规则「{title}」— {article}：「{clause}」", "rule_basis": "依据 {article}：「{clause}」",
        "triggered_by": "触发事件 {event}，{at}",
        "evidence": "证据事件 {event}，{at}", "why": "理由：{text}",
    },
}
