"""The event vocabulary of SPEC §2 as plain data: type → level and data fields.

`facts.events` turns this table into pydantic models; keeping it as one table makes the
vocabulary easy to read against the SPEC and lets the rule validator check field names.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

Age = Annotated[int, Field(ge=0, le=120)]
Year = Annotated[int, Field(ge=1900, le=2200)]
Period = Annotated[str, Field(pattern=r"^\d{4}-Q[1-4]$")]
Text = Annotated[str, Field(max_length=200)]  # SPEC §2: free-text strings are at most 200 characters
Measures = Annotated[list[Literal["public_criticism", "one_vote_veto"]], Field(min_length=1, max_length=2)]
REQUIRED: Any = ...

# field name -> (annotation, default); default REQUIRED means the field must be given.
# SPEC §2: a field "(default v)" may be omitted and reads as v; "... or null" may be omitted
# and reads as null; every other field is required.
Fields = dict[str, tuple[Any, Any]]

CASE: dict[str, Fields] = {
    "child.missing_reported": {"age": (Annotated[int, Field(ge=0, le=17)], REQUIRED)},
    "child.unknown_origin_found": {
        "age": (Age | None, None),
        "circumstance": (Literal["abandoned", "wandering", "screening", "other"], REQUIRED),
    },
    "child.found": {},
    "child.taken_into_care": {},
    "dna.sample_entered": {"role": (Literal["child", "parent"], REQUIRED)},
    "dna.compared": {"matched": (bool, REQUIRED)},
    "dna.collected": {
        "collector_kind": (
            Literal["public_security", "medical_institution", "forensic_institution",
                    "social_organization", "individual", "other"], REQUIRED),
        "collector": (Text | None, None),
        "of": (Literal["trafficked_child", "parent", "suspected_victim", "other"], REQUIRED),
    },
    "household_registration.requested": {
        "age": (Age | None, None),
        "origin": (Literal["known", "unknown"], REQUIRED),
    },
    "household_registration.approved": {},
    "maternity.admitted": {"identity_verified": (bool, REQUIRED), "identity_mismatch": (bool, False)},
    "birth.delivered": {},
    "identity.verified": {"check": (Literal["identity", "entry_exit"], REQUIRED)},
    "birth_certificate.issued": {"birth_verified": (bool, REQUIRED)},
    "suspicion.observed": {
        "observer_role": (
            Literal["teacher", "medical_staff", "marriage_registrar", "venue_staff",
                    "hotel_staff", "employer", "other"], REQUIRED),
    },
    "suspicion.reported": {},
    "report.verified": {"outcome": (Literal["case_opened", "no_crime"], REQUIRED)},
    "marriage_registration.requested": {"foreign_party": (bool, REQUIRED)},
    "marriage_registration.completed": {},
    "adoption.requested": {"origin": (Literal["known", "unknown"], REQUIRED)},
    "adoption.approved": {},
    "student.dropped_out": {"stage": (Literal["compulsory", "other"], REQUIRED)},
    "student.dropout_followed_up": {},
    "student.enrolled": {},
    "illegal_employment.found": {
        "kind": (Literal["child_labor", "intellectual_disability", "illegal_agency"], REQUIRED),
    },
    "labor_case.opened": {},
    "labor_case.extended": {},
    "labor_case.closed": {},
    "case.opened": {"kind": (Literal["child_trafficking", "woman_trafficking", "other"], REQUIRED)},
    "case.task_force_formed": {
        "leader_rank": (Literal["county_bureau_head", "deputy_head", "other"], REQUIRED),
    },
    "tuanyuan.alert_published": {},
    "victim.rescued": {
        "age": (Age, REQUIRED),
        "foreign": (bool, False),
        "guardian_identified": (bool | None, None),
        "wants_employment": (bool | None, None),
    },
    "victim.repatriated": {},
    "child.returned_to_parents": {"to": (Literal["parents", "guardian"], "parents")},
    "child.handed_to_civil_affairs": {},
    "child.placed": {
        "placement": (Literal["buyer_family", "welfare_institution", "foster_family", "relatives", "other"],
                      REQUIRED),
    },
    "aid.admitted": {"identity_known": (bool, REQUIRED), "trafficking_victim": (bool, REQUIRED)},
    "identity.established": {},
    "aid.discharged": {},
    "employment_service.provided": {},
    "technical_school.offered": {},
    "medical_care.provided": {},
    "legal_aid.applied": {"victim": (bool, REQUIRED)},
    "legal_aid.decided": {"granted": (bool, REQUIRED)},
    "prosecution.victim_defendant": {"coerced": (bool, REQUIRED), "deceived": (bool, False)},
    "prosecution.leniency_considered": {},
}

UNIT_LEVEL: dict[str, Fields] = {
    "unit.liaison_designated": {},
    "unit.implementation_plan_filed": {},
    "unit.annual_plan_filed": {"year": (Year, REQUIRED)},
    "unit.self_inspection_completed": {"year": (Year, REQUIRED)},
    "unit.campaign_reported": {"year": (Year, REQUIRED)},
    "budget.allocated": {"year": (Year, REQUIRED)},
    "situation_analysis.completed": {"period": (Period, REQUIRED)},
    "office.annual_evaluation_completed": {"year": (Year, REQUIRED)},
    "office.final_evaluation_completed": {},
    "assessment.completed": {"year": (Year, REQUIRED)},
    "assessment.enforcement_failure": {
        "year": (Year, REQUIRED),
        "target": (str, REQUIRED),
        "finding": (Literal["prevention_ineffective", "duties_unperformed"], REQUIRED),
        "measures": (Measures, ["public_criticism", "one_vote_veto"]),
    },
}

ALL_TYPES: dict[str, Fields] = {**CASE, **UNIT_LEVEL}
