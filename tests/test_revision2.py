"""SPEC revision 2's mechanisms, end to end through the engine: working days, extension,
discharge, all-of and one-of fulfilment by named units, and the ladder's four bases."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from oblige import Engine
from oblige.engine.rules.errors import RulesetError
from oblige.engine.rules.params import build_params
from oblige.engine.rules.ruleset import DEFAULT_RULESET, load_ruleset
from oblige.engine.rules.workdays import CALENDAR_NAME, add_working_days, covered, estimated
from oblige.facts.timeutil import format_instant, parse_instant
from tests.conftest import ev, verdicts


def evaluate(engine: Engine, events: list[dict[str, Any]], as_of: str) -> dict[str, Any]:
    return engine.evaluate(verdicts(engine, events), parse_instant(as_of)).to_json_dict()


def one(items: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    found = [i for i in items if all(i.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (match, found)
    return found[0]


def none(items: list[dict[str, Any]], **match: Any) -> None:
    assert not [i for i in items if all(i.get(k) == v for k, v in match.items())], match


# ---- working days ---------------------------------------------------------------------------

@pytest.mark.parametrize("start,n,due", [
    ("2023-09-28T10:00:00+08:00", 5, "2023-10-11T23:59:59+08:00"),  # 09-29..10-06 off; 10-07, 10-08 on
    ("2023-10-06T18:00:00+08:00", 1, "2023-10-07T23:59:59+08:00"),  # an adjusted Saturday counts
    ("2025-01-24T10:00:00+08:00", 3, "2025-02-05T23:59:59+08:00"),  # 01-26 Sunday on; 01-28..02-04 off
    ("2025-01-27T10:00:00+08:00", 1, "2025-02-05T23:59:59+08:00"),
    ("2025-02-07T10:00:00+08:00", 1, "2025-02-08T23:59:59+08:00"),  # 02-08 Saturday on
])
def test_working_days_follow_the_official_calendar(start: str, n: int, due: str) -> None:
    assert format_instant(add_working_days(parse_instant(start), n)) == due
    assert not estimated(parse_instant(start), n)


def test_beyond_the_calendar_monday_to_friday_and_estimated() -> None:
    last = max(y for y in range(2004, 2100) if covered(y))
    start = parse_instant(f"{last + 1}-01-02T09:00:00")
    due = add_working_days(start, 5)
    assert estimated(start, 5)
    assert parse_instant(f"{last + 1}-01-03") < due < parse_instant(f"{last + 1}-01-15")
    assert CALENDAR_NAME.startswith("chinese-calendar ")


def test_labour_case_deadlines_are_statutory_working_days(engine: Engine) -> None:
    events = [ev("i1", "illegal_employment.found", "2023-09-28T10:00:00+08:00", "human_resources", "w1", kind="child_labor")]
    doc = evaluate(engine, events, "2023-10-12")
    ob = one(doc["obligations"], action="open_labor_case", subject="w1")
    assert ob["due"] == "2023-10-11T23:59:59+08:00" and ob["status"] == "overdue"
    assert engine.ruleset.params.basis["labor_case_filing_deadline"][0] == "statute"


def test_an_approved_extension_moves_the_due_instant_once(engine: Engine) -> None:
    opened = ev("o1", "labor_case.opened", "2023-03-01T09:00:00+08:00", "human_resources", "w2")
    plain = evaluate(engine, [opened], "2023-03-02")
    due = one(plain["obligations"], action="investigate_illegal_employment")["due"]
    extended = [opened, ev("x1", "labor_case.extended", "2023-04-20", "human_resources", "w2"),
                ev("x2", "labor_case.extended", "2023-05-10", "human_resources", "w2")]
    doc = evaluate(engine, extended, "2023-03-02")
    assert one(doc["obligations"], action="investigate_illegal_employment")["due"] == due  # not yet known
    doc = evaluate(engine, extended, "2023-05-11")
    new_due = one(doc["obligations"], action="investigate_illegal_employment")["due"]
    assert new_due == format_instant(add_working_days(parse_instant(due), 30))
    late = [opened, ev("x1", "labor_case.extended", format_instant(parse_instant(due) + 1_000_000), "human_resources", "w2")]
    doc = evaluate(engine, late, "2023-09-01")
    assert one(doc["obligations"], action="investigate_illegal_employment")["due"] == due  # too late to extend


# ---- discharge, all-of, one-of, by ----------------------------------------------------------

def test_a_found_child_discharges_the_alert_before_it_falls_due(engine: Engine) -> None:
    events = [ev("m1", "child.missing_reported", "2023-06-01T08:00:00+08:00", "public_security", "c1", age=5),
              ev("f1", "child.found", "2023-06-01T20:00:00+08:00", "public_security", "c1")]
    doc = evaluate(engine, events, "2023-07-01")
    assert one(doc["obligations"], action="publish_tuanyuan_alert")["status"] == "discharged"
    assert one(doc["obligations"], action="collect_parent_dna")["status"] == "discharged"
    assert not [v for v in doc["violations"] if v["subject"] == "c1"] and doc["summary"]["discharged"] == 2
    late = [events[0], ev("f1", "child.found", "2023-06-03T08:00:00+08:00", "public_security", "c1")]
    doc = evaluate(engine, late, "2023-07-01")
    assert one(doc["obligations"], action="publish_tuanyuan_alert")["status"] == "overdue"  # found after the due
    assert one(doc["obligations"], action="collect_parent_dna")["status"] == "discharged"  # within 7 days


def test_a_fulfilment_before_the_discharge_stays_a_fulfilment(engine: Engine) -> None:
    events = [ev("m1", "child.missing_reported", "2023-06-01T08:00:00+08:00", "public_security", "c1", age=5),
              ev("a1", "tuanyuan.alert_published", "2023-06-01T09:00:00+08:00", "public_security", "c1"),
              ev("f1", "child.found", "2023-06-01T20:00:00+08:00", "public_security", "c1")]
    doc = evaluate(engine, events, "2023-07-01")
    assert one(doc["obligations"], action="publish_tuanyuan_alert")["status"] == "fulfilled"


def test_all_of_needs_every_act_and_is_fulfilled_by_the_last(engine: Engine) -> None:
    request = ev("r1", "marriage_registration.requested", "2023-03-01", "civil_affairs", "w1", foreign_party=True)
    identity = ev("v1", "identity.verified", "2023-03-02", "public_security", "w1", check="identity")
    entry = ev("v2", "identity.verified", "2023-03-05", "civil_affairs", "w1", check="entry_exit")
    doc = evaluate(engine, [request, identity], "2023-03-10")
    assert one(doc["obligations"], action="verify_identity_and_entry_exit")["status"] == "open"
    doc = evaluate(engine, [request, entry, identity], "2023-03-10")
    ob = one(doc["obligations"], action="verify_identity_and_entry_exit")
    assert (ob["status"], ob["fulfilled_by"], ob["fulfilled_at"]) == ("fulfilled", "v2", "2023-03-05T00:00:00+08:00")


def test_only_the_bearer_or_a_named_unit_fulfils(engine: Engine) -> None:
    admitted = ev("a1", "maternity.admitted", "2023-03-01T08:00:00+08:00", "health", "m1", identity_verified=False)
    by_police = ev("v1", "identity.verified", "2023-03-01T10:00:00+08:00", "public_security", "m1", check="identity")
    by_civil = ev("v1", "identity.verified", "2023-03-01T10:00:00+08:00", "civil_affairs", "m1", check="identity")
    assert one(evaluate(engine, [admitted, by_police], "2023-03-05")["obligations"],
               action="verify_maternal_identity")["status"] == "fulfilled"
    assert one(evaluate(engine, [admitted, by_civil], "2023-03-05")["obligations"],
               action="verify_maternal_identity")["status"] == "overdue"


def test_the_district_plan_is_filed_by_gov_office_for_the_district(engine: Engine) -> None:
    events = [ev("p1", "unit.annual_plan_filed", "2023-03-01", "gov_office", year=2023),
              ev("b1", "budget.allocated", "2023-03-02", "finance", year=2023)]
    doc = evaluate(engine, events, "2023-04-02")
    plan = one(doc["obligations"], action="file_annual_plan", period="2023")
    assert plan["duty_bearer"] == "district_government" and plan["fulfilled_by"] == "p1"
    assert one(doc["obligations"], action="allocate_budget", period="2023")["fulfilled_by"] == "b1"
    none(doc["obligations"], action="file_annual_plan", duty_bearer="gov_office")


# ---- the ladder -----------------------------------------------------------------------------

MISSED = [ev("s1", "suspicion.observed", "2023-03-01T09:00:00+08:00", "education", "pupil-1", observer_role="teacher")]


def test_a_missed_report_is_supervised_and_only_proposed_for_criticism_and_veto(engine: Engine) -> None:
    doc = evaluate(engine, MISSED, "2024-01-05")
    vi = one(doc["violations"], subject="pupil-1")
    assert vi["at"] == "2023-03-02T09:00:00+08:00"
    mine = [e for e in doc["escalations"] if vi["id"] in e["because"]]
    notice = one(mine, level="supervision_notice")
    assert (notice["basis"], notice["issued_by"], notice["article"]) == ("rule", "joint_conference_office", 37)
    crit = one(mine, level="public_criticism")
    assert (crit["basis"], crit["at"], crit["period"]) == ("proposed", "2023-04-01T09:00:00+08:00", "2023")
    vetoes = [e for e in doc["escalations"] if e["level"] == "one_vote_veto" and e["unit"] == "education"]
    veto = one(vetoes, period="2023")
    # the education bureau's other 2023 duties (self-inspection, campaign) fall due at year end too:
    # the earliest unremedied criticised violation of the year stands behind the veto
    assert (veto["basis"], veto["at"]) == ("proposed", "2023-12-31T23:59:59+08:00")
    counts = doc["summary"]
    assert counts["rule"] + counts["proposed"] + counts["determined"] + counts["declined"] == counts["escalations"]


def test_the_committee_determines_and_replaces_the_proposals(engine: Engine) -> None:
    decided = MISSED + [ev("d1", "assessment.enforcement_failure", "2024-03-31", "political_legal", year=2023,
                           target="education", finding="duties_unperformed", measures=["one_vote_veto"])]
    doc = evaluate(engine, decided, "2024-04-05")
    veto = one(doc["escalations"], level="one_vote_veto", unit="education", period="2023")
    assert (veto["basis"], veto["at"], veto["because"]) == ("determined", "2024-03-31T00:00:00+08:00", ["d1"])
    vi = one(doc["violations"], subject="pupil-1")
    crit = one([e for e in doc["escalations"] if vi["id"] in e["because"]], level="public_criticism")
    assert crit["basis"] == "proposed"  # not among the measures the committee listed
    before = evaluate(engine, decided, "2024-03-30")  # the decision is not yet made
    assert one(before["escalations"], level="one_vote_veto", unit="education", period="2023")["basis"] == "proposed"


def test_a_completed_assessment_declines_what_it_did_not_take_up(engine: Engine) -> None:
    done = MISSED + [ev("c1", "assessment.completed", "2024-03-20", "political_legal", year=2023)]
    def bases(doc: dict[str, Any]) -> set[str]:
        return {e["basis"] for e in doc["escalations"] if e["level"] != "supervision_notice" and e["period"] == "2023"}

    doc = evaluate(engine, done, "2024-04-01")
    assert bases(doc) == {"declined"}
    assert {e["basis"] for e in doc["escalations"] if e["level"] == "supervision_notice"} == {"rule"}
    assert {e["basis"] for e in doc["escalations"] if e["period"] == "2022" and e["level"] != "supervision_notice"} == {"proposed"}
    assert bases(evaluate(engine, done, "2024-03-19")) == {"proposed"}


def test_a_prohibited_act_is_proposed_at_once_and_never_remedied(engine: Engine) -> None:
    events = [ev("p1", "child.placed", "2023-05-01", "civil_affairs", "c9", placement="buyer_family")]
    doc = evaluate(engine, events, "2024-01-01")
    vi = one(doc["violations"], subject="c9")
    assert (vi["kind"], vi["unit"]) == ("prohibited", "civil_affairs")
    crit = one([e for e in doc["escalations"] if e["because"] == [vi["id"]]], level="public_criticism")
    assert (crit["basis"], crit["at"]) == ("proposed", "2023-05-01T00:00:00+08:00")
    assert one(doc["escalations"], level="one_vote_veto", unit="civil_affairs", period="2023")["at"] == "2023-12-31T23:59:59+08:00"


def test_no_art36_measure_against_the_committee_the_district_or_outsiders(engine: Engine) -> None:
    doc = evaluate(engine, [], "2025-01-01")  # every calendar duty missed
    units = {e["unit"] for e in doc["escalations"] if e["level"] != "supervision_notice"}
    assert units and not units & {"political_legal", "district_government", "joint_conference_office", "external"}
    notices = {e["unit"] for e in doc["escalations"] if e["level"] == "supervision_notice"}
    assert "district_government" not in notices and {"political_legal", "joint_conference_office"} <= notices
    office = [e for e in doc["escalations"] if e["unit"] == "joint_conference_office"]
    assert office and {e["issued_by"] for e in office} == {"district_government"}


def test_batch_equals_session_with_decisions(engine: Engine, tmp_path: Path) -> None:
    import io
    import json

    from oblige.engine.batch.evaluator import BatchEvaluator

    events = MISSED + [
        ev("d1", "assessment.enforcement_failure", "2024-03-31", "political_legal", year=2023, target="education",
           finding="duties_unperformed"),
        ev("c1", "assessment.completed", "2024-03-20", "political_legal", year=2022),
        ev("p1", "child.placed", "2022-07-01", "civil_affairs", "c9", placement="buyer_family")]
    as_of = parse_instant("2024-06-01")
    out = io.StringIO()
    BatchEvaluator(engine, workers=1, tmpdir=str(tmp_path)).run(verdicts(engine, events), as_of, out)
    assert json.loads(out.getvalue()) == engine.evaluate(verdicts(engine, events), as_of).to_json_dict()


# ---- parameters -----------------------------------------------------------------------------

def test_a_parameter_without_basis_or_reason_fails_validation(tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "rs"
    shutil.copytree(DEFAULT_RULESET, copy)
    lines = (copy / "parameters.yaml").read_text(encoding="utf-8").splitlines(keepends=True)
    start = lines.index("report_deadline:\n")
    basis = next(i for i in range(start, len(lines)) if lines[i].strip().startswith("basis:"))
    (copy / "parameters.yaml").write_text("".join(lines[:basis] + lines[basis + 1:]), encoding="utf-8")
    with pytest.raises(RulesetError) as caught:
        load_ruleset(copy)
    assert "report_deadline" in str(caught.value) and "basis" in str(caught.value)


def test_overrides_keep_or_replace_basis_and_take_working_days(engine: Engine) -> None:
    rs = engine.ruleset
    params, errors = build_params(rs.specs, {"report_deadline": {"working_days": 1},
                                             "dna_deadline": {"value": "P3D", "basis": "text", "reason": "a test"}}, "t")
    assert not errors and params is not None
    assert params.basis["report_deadline"] == (rs.specs["report_deadline"].basis, rs.specs["report_deadline"].reason)
    assert params.basis["dna_deadline"] == ("text", "a test")
    assert params.describe("report_deadline") == "1 working days"
    fast = Engine(rs.with_params(params))
    doc = evaluate(fast, MISSED, "2023-03-10")
    assert one(doc["obligations"], action="report_to_police")["due"] == "2023-03-02T23:59:59+08:00"
    _, errors = build_params(rs.specs, {"report_deadline": {"working_days": 0}}, "t")
    assert errors and "working_days" in errors[0].message


def test_the_receipt_names_the_calendar(engine: Engine) -> None:
    doc = evaluate(engine, MISSED, "2023-03-10")
    assert doc["receipt"]["calendar"] == CALENDAR_NAME


def test_working_days_agree_with_the_calendar_package_over_its_years() -> None:
    """engine.workdays reads chinese-calendar's notices directly (for speed): it must agree day by day."""
    import datetime as dt

    import chinese_calendar

    from oblige.engine.rules.workdays import FIRST_YEAR, LAST_YEAR, is_workday

    day = dt.date(FIRST_YEAR, 1, 1)
    while day.year <= LAST_YEAR:
        assert is_workday(day) == chinese_calendar.is_workday(day), day
        day += dt.timedelta(days=1)
