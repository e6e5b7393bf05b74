"""Labels for people: unit names, duty titles, statuses, kinds and levels in zh or en.

All of it is ruleset data (units.yaml, rule titles, ruleset.yaml labels and ladder titles);
machine formats keep the codes, and `--labels` adds this object for services that display them.
"""
from __future__ import annotations

from typing import Any

from oblige.engine.render.i18n import PHRASES, UI, format_value
from oblige.engine.rules.ruleset import Ruleset
from oblige.engine.rules.schema import BASES, KINDS, LEVELS, STATUSES
from oblige.facts.units import EXTERNAL

__all__ = ["BASES", "KINDS", "LANGS", "LEVELS", "STATUSES", "add_labels", "basis_note", "escalation_label", "labels",
           "parameter_words", "unit_name"]
LANGS = ("zh", "en")
EXTERNAL_NAME = {"zh": "区外单位或个人", "en": "External party"}  # `external`: anyone outside the district's units


def unit_name(ruleset: Ruleset, code: str, lang: str) -> str:
    """A unit as its readers name it; `external` too."""
    return EXTERNAL_NAME[lang] if code == EXTERNAL else ruleset.units.label(code, lang)


def labels(ruleset: Ruleset, lang: str) -> dict[str, dict[str, str]]:
    """Every label of the ruleset in one language."""
    ladder = ruleset.header.escalation
    units = {u.code: (u.name_zh if lang == "zh" else u.name_en) for u in (*ruleset.units.members, *ruleset.units.others)}
    units.setdefault(EXTERNAL, EXTERNAL_NAME[lang])
    actions: dict[str, str] = {}
    rules: dict[str, str] = {}
    for located in ruleset.rules:
        title = getattr(located.rule.title, lang)
        rules[located.rule.id] = title
        action = getattr(located.rule, "action", None)
        if action and action not in actions:
            actions[action] = title
    group = lambda name: {k: getattr(v, lang) for k, v in ruleset.header.labels.get(name, {}).items()}  # noqa: E731
    return {"units": units, "actions": actions, "rules": rules, "status": group("status"), "kind": group("kind"),
            "level": {lv: getattr(getattr(ladder, lv).title, lang) for lv in LEVELS}, "basis": group("basis"),
            "events": group("events"), "finding": group("finding"),
            "parameters": {name: getattr(spec.title, lang) for name, spec in ruleset.specs.items() if spec.title}}


def parameter_words(ruleset: Ruleset, name: str, lang: str) -> dict[str, str]:
    """A parameter as people read it in `lang`: its title, its value (30日 / 30 days, 5个工作日),
    its basis (本规则的解读 / policy) and its reason (overrides applied: an override's own reason is
    shown as given)."""
    spec = ruleset.specs.get(name)
    if spec is None:
        return {"title": name, "value": "", "basis": "", "reason": ""}
    basis, reason = ruleset.params.basis.get(name, (spec.basis, spec.reason))
    if lang == "zh" and reason == spec.reason and spec.reason_zh:
        reason = spec.reason_zh
    return {"title": getattr(spec.title, lang) if spec.title else name,
            "value": format_value(spec.kind, ruleset.params.raw.get(name, spec.value), lang),
            "basis": PHRASES[lang].get(f"pb_{basis}", basis), "reason": reason}


def escalation_label(lab: dict[str, dict[str, str]], level: str, basis: str, lang: str) -> str:
    """A level with its basis, so that a proposal never reads like a decision: 一票否决（建议）,
    One-vote veto (proposed). A supervision notice by rule reads as the level alone (督办通知).

    >>> lab = {"level": {"one_vote_veto": "一票否决", "supervision_notice": "督办通知"},
    ...        "basis": {"proposed": "建议", "rule": "依规督办"}}
    >>> escalation_label(lab, "one_vote_veto", "proposed", "zh"), escalation_label(lab, "supervision_notice", "rule", "zh")
    ('一票否决（建议）', '督办通知')
    >>> escalation_label({"level": {"one_vote_veto": "One-vote veto"}, "basis": {"proposed": "Proposed"}},
    ...                  "one_vote_veto", "proposed", "en")
    'One-vote veto (proposed)'
    """
    level_text = lab["level"].get(level, level)
    if basis == "rule":
        return level_text
    basis_text = lab.get("basis", {}).get(basis, basis)
    return f"{level_text}（{basis_text}）" if lang == "zh" else f"{level_text} ({basis_text.lower()})"


def _join(items: list[str], lang: str) -> str:
    return ("、" if lang == "zh" else ", ").join(dict.fromkeys(items))


def basis_note(ruleset: Ruleset, lang: str) -> str:
    """The caption under every escalation table: which levels follow by rule, which the deciding
    unit decides (the issuer of the `proposed` steps), all from the ruleset's ladder."""
    ladder, lab = ruleset.header.escalation, labels(ruleset, lang)
    steps = [(lv, getattr(ladder, lv)) for lv in LEVELS]
    return UI[lang]["basis_note"].format(
        by_rule=_join([lab["level"][lv] for lv, st in steps if st.basis == "rule"], lang),
        proposed_levels=_join([lab["level"][lv] for lv, st in steps if st.basis == "proposed"], lang),
        decider=_join([lab["units"].get(st.issued_by, st.issued_by) for _, st in steps if st.basis == "proposed"], lang),
        proposed=lab["basis"].get("proposed", "proposed"))


def charged_units(ruleset: Ruleset, level: str, lang: str) -> str:
    """Who a ladder step may charge, for people: 成员单位或联席会议办公室 / a member unit or Joint Conference Office."""
    step, lab, p = getattr(ruleset.header.escalation, level), labels(ruleset, lang), PHRASES[lang]
    names = [p["members"] if code == "members" else lab["units"].get(code, code) for code in step.charges]
    return p["or"].join(dict.fromkeys(names))


def add_labels(doc: dict[str, Any], ruleset: Ruleset, lang: str) -> dict[str, Any]:
    doc["labels"] = {"lang": lang, **labels(ruleset, lang)}
    return doc
