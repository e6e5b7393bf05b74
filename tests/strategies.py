"""Hypothesis strategies: streams of valid events over a few subjects and units."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from oblige.facts.timeutil import ZONE

SUBJECTS = ["s1", "s2", "s3"]
UNITS = ["public_security", "civil_affairs", "education", "health", "commerce", "political_legal", "gov_office", "justice",
         "human_resources", "joint_conference_office", "district_government", "external"]

# (type, data) templates: every rule's trigger, fulfilment, blocker, discharge, extension and act appears here.
CASE_TEMPLATES: list[tuple[str, dict[str, Any]]] = [
    ("household_registration.requested", {"age": 3, "origin": "unknown"}),
    ("household_registration.requested", {"age": None, "origin": "known"}),
    ("household_registration.approved", {}),
    ("dna.compared", {"matched": False}),
    ("child.missing_reported", {"age": 5}),
    ("child.missing_reported", {"age": 15}),
    ("child.found", {}),
    ("tuanyuan.alert_published", {}),
    ("dna.sample_entered", {"role": "parent"}),
    ("dna.sample_entered", {"role": "child"}),
    ("child.unknown_origin_found", {"age": 1, "circumstance": "abandoned"}),
    ("child.unknown_origin_found", {"age": None, "circumstance": "screening"}),
    ("child.taken_into_care", {}),
    ("victim.rescued", {"age": 9, "guardian_identified": True}),
    ("victim.rescued", {"age": 4, "guardian_identified": False, "foreign": True}),
    ("victim.rescued", {"age": 16, "wants_employment": True}),
    ("child.returned_to_parents", {}),
    ("child.returned_to_parents", {"to": "guardian"}),
    ("child.handed_to_civil_affairs", {}),
    ("child.placed", {"placement": "foster_family"}),
    ("child.placed", {"placement": "buyer_family"}),
    ("medical_care.provided", {}),
    ("student.enrolled", {}),
    ("student.dropped_out", {"stage": "compulsory"}),
    ("suspicion.observed", {"observer_role": "teacher"}),
    ("suspicion.observed", {"observer_role": "marriage_registrar"}),
    ("suspicion.observed", {"observer_role": "hotel_staff"}),
    ("suspicion.reported", {}),
    ("report.verified", {"outcome": "no_crime"}),
    ("marriage_registration.requested", {"foreign_party": True}),
    ("marriage_registration.completed", {}),
    ("identity.verified", {"check": "entry_exit"}),
    ("identity.verified", {"check": "identity"}),
    ("maternity.admitted", {"identity_verified": False, "identity_mismatch": True}),
    ("birth_certificate.issued", {"birth_verified": False}),
    ("case.opened", {"kind": "child_trafficking"}),
    ("case.task_force_formed", {"leader_rank": "deputy_head"}),
    ("case.task_force_formed", {"leader_rank": "other"}),
    ("illegal_employment.found", {"kind": "child_labor"}),
    ("labor_case.opened", {}),
    ("labor_case.extended", {}),
    ("labor_case.closed", {}),
    ("aid.admitted", {"identity_known": False, "trafficking_victim": True}),
    ("identity.established", {}),
    ("dna.collected", {"collector_kind": "individual", "of": "parent"}),
    ("prosecution.victim_defendant", {"coerced": False, "deceived": True}),
    ("legal_aid.applied", {"victim": True}),
    ("legal_aid.decided", {"granted": False}),
]
UNIT_TEMPLATES: list[tuple[str, dict[str, Any]]] = [
    ("unit.liaison_designated", {}),
    ("unit.implementation_plan_filed", {}),
    ("unit.annual_plan_filed", {"year": 2023}),
    ("unit.annual_plan_filed", {"year": 2022}),
    ("unit.self_inspection_completed", {"year": 2022}),
    ("situation_analysis.completed", {"period": "2022-Q3"}),
    ("office.annual_evaluation_completed", {"year": 2022}),
    ("assessment.enforcement_failure", {"year": 2023, "target": "education", "finding": "duties_unperformed"}),
    ("assessment.enforcement_failure", {"year": 2022, "target": "commerce", "finding": "prevention_ineffective",
                                        "measures": ["public_criticism"]}),
    ("assessment.completed", {"year": 2022}),
]
# Types that only ever fulfil a duty (never trigger, block, cancel, discharge or offend).
FULFIL_ONLY = ["tuanyuan.alert_published", "dna.sample_entered", "dna.compared", "child.taken_into_care",
               "medical_care.provided", "student.enrolled", "identity.verified",
               "unit.liaison_designated", "unit.annual_plan_filed", "unit.self_inspection_completed",
               "situation_analysis.completed", "office.annual_evaluation_completed"]


def _reporters() -> dict[str, list[str]]:
    """Per type, the units of UNITS that may report it (SPEC §2.1), so that drawn events are valid."""
    from oblige.engine.rules.ruleset import load_ruleset

    units = load_ruleset(check=False).units
    return {t: [u for u in UNITS if units.may_report(t, u)] for t, _ in CASE_TEMPLATES + UNIT_TEMPLATES}


REPORTERS = _reporters()

START = datetime(2022, 5, 1, tzinfo=ZONE)
SPAN_HOURS = 24 * 600


def instant(hours: int) -> str:
    return (START + timedelta(hours=hours)).isoformat()


@st.composite
def event_streams(draw: st.DrawFn, max_size: int = 25, templates=None) -> list[dict[str, Any]]:
    n = draw(st.integers(min_value=0, max_value=max_size))
    events = []
    for i in range(n):
        unit_level = draw(st.booleans()) if templates is None else False
        type_, data = draw(st.sampled_from(templates or (UNIT_TEMPLATES if unit_level else CASE_TEMPLATES)))
        e: dict[str, Any] = {"id": f"h{i}", "type": type_, "occurred_at": instant(draw(st.integers(0, SPAN_HOURS))),
                             "unit": draw(st.sampled_from(REPORTERS[type_])), "data": dict(data)}
        if not unit_level:
            e["subject"] = draw(st.sampled_from(SUBJECTS))
        events.append(e)
    return events


as_of_hours = st.integers(0, SPAN_HOURS + 24 * 120)
