"""The event vocabulary: strict, closed, precise errors; timestamps normalised to +08:00."""
from __future__ import annotations

import io
import json

import pytest

from oblige.facts.events import EVENT_MODELS
from oblige.facts.reader import Accepted, Rejected, check_event, read_lines, read_stream
from oblige.facts.timeutil import (
    TimeFormatError,
    format_instant,
    parse_duration,
    parse_instant,
)
from oblige.facts.vocabulary import ALL_TYPES, UNIT_LEVEL


def base(type_: str, unit: str = "public_security", **data) -> dict:
    e = {"id": "e1", "type": type_, "occurred_at": "2023-03-01T09:30:00+08:00", "unit": unit, "data": data}
    if type_ not in UNIT_LEVEL:
        e["subject"] = "p-1"
    return e


def test_every_type_has_a_model() -> None:
    assert set(EVENT_MODELS) == set(ALL_TYPES)
    assert len(ALL_TYPES) - len(UNIT_LEVEL) == 45 and len(UNIT_LEVEL) == 11  # SPEC §2 (revision 2)


@pytest.mark.parametrize("text,expected", [
    ("2023-03-01", "2023-03-01T00:00:00+08:00"),
    ("2023-03-01T09:30:00", "2023-03-01T09:30:00+08:00"),
    ("2023-03-01T01:30:00Z", "2023-03-01T09:30:00+08:00"),
    ("2023-03-01T09:30:00-05:00", "2023-03-01T22:30:00+08:00"),
    ("2023-03-01T09:30:00.750+08:00", "2023-03-01T09:30:00+08:00"),
])
def test_timestamps_normalise(text: str, expected: str) -> None:
    assert format_instant(parse_instant(text)) == expected


@pytest.mark.parametrize("text", ["2023-1-01", "yesterday", "2023-02-30", "", "2023-03-01T25:00"])
def test_bad_timestamps(text: str) -> None:
    with pytest.raises(TimeFormatError):
        parse_instant(text)


def test_durations() -> None:
    assert parse_duration("PT24H") == parse_duration("P1D") == 86_400_000_000
    for bad in ("P1M", "P1Y", "P", "PT", "7 days", "24h"):
        with pytest.raises(TimeFormatError):
            parse_duration(bad)


def test_valid_event_is_accepted(engine) -> None:
    v = check_event(base("child.missing_reported", age=5), engine.ruleset.units, "f", 1, "")
    assert isinstance(v, Accepted)
    assert v.fact.get("age") == 5 and v.fact.subject == "p-1"


@pytest.mark.parametrize("mutate,fragment", [
    (lambda e: e["data"].update(age="5"), "data.age"),
    (lambda e: e["data"].update(age=5.0), "data.age"),
    (lambda e: e["data"].update(age=18), "data.age"),
    (lambda e: e["data"].update(colour="red"), "data.colour"),
    (lambda e: e.update(extra=1), "extra"),
    (lambda e: e.pop("subject"), "subject"),
    (lambda e: e.update(subject="bad name"), "subject"),
    (lambda e: e.update(id="x" * 129), "id"),
    (lambda e: e.update(unit="police_station_9"), "unit: unknown unit"),
    (lambda e: e.update(occurred_at="soon"), "occurred_at"),
    (lambda e: e.update(type="child.went_missing"), "unknown event type"),
    (lambda e: e.pop("data"), "data.age: Field required"),
])
def test_bad_events_are_rejected_precisely(engine, mutate, fragment: str) -> None:
    e = base("child.missing_reported", age=5)
    mutate(e)
    v = check_event(e, engine.ruleset.units, "f", 7, "")
    assert isinstance(v, Rejected)
    assert fragment in v.error
    assert v.line == 7


def test_defaults_and_nulls(engine) -> None:
    v = check_event(base("victim.rescued", age=9), engine.ruleset.units, "f", 1, "")
    assert isinstance(v, Accepted)
    assert v.fact.get("foreign") is False and v.fact.get("guardian_identified") is None


@pytest.mark.parametrize("type_,data", [
    ("household_registration.requested", {"origin": "unknown"}),
    ("child.unknown_origin_found", {"circumstance": "other"}),
    ("dna.collected", {"collector_kind": "individual", "of": "parent"}),
    ("victim.rescued", {"age": 9}),
])
def test_or_null_fields_may_be_omitted(engine, type_: str, data: dict) -> None:
    v = check_event(base(type_, **data), engine.ruleset.units, "f", 1, "")
    assert isinstance(v, Accepted), getattr(v, "error", "")


@pytest.mark.parametrize("type_,data,field", [
    ("household_registration.requested", {"age": 3}, "data.origin"),
    ("victim.rescued", {"foreign": True}, "data.age"),
    ("child.unknown_origin_found", {"age": None}, "data.circumstance"),
])
def test_plain_fields_are_required(engine, type_: str, data: dict, field: str) -> None:
    v = check_event(base(type_, **data), engine.ruleset.units, "f", 1, "")
    assert isinstance(v, Rejected) and f"{field}: Field required" in v.error


@pytest.mark.parametrize("subject", [42, "p-1", {"name": "Zhang San"}])
def test_unit_level_events_carry_no_subject(engine, subject) -> None:
    e = base("unit.self_inspection_completed", unit="commerce", year=2023)
    e["subject"] = subject
    v = check_event(e, engine.ruleset.units, "f", 1, "")
    assert isinstance(v, Rejected) and v.error.startswith("subject:")
    e["subject"] = None
    v = check_event(e, engine.ruleset.units, "f", 1, "")
    assert isinstance(v, Accepted) and v.fact.subject is None and v.fact.partition == ("unit", "commerce")


@pytest.mark.parametrize("type_,unit,data", [
    ("dna.compared", "health", {"matched": True}),  # only the police compare DNA
    ("assessment.enforcement_failure", "health", {"year": 2023, "target": "commerce", "finding": "duties_unperformed"}),
    ("unit.annual_plan_filed", "commerce", {"year": 2023}),  # the district's plan
    ("suspicion.observed", "external", {"observer_role": "hotel_staff"}),  # a district unit's observation
    ("unit.liaison_designated", "district_government", {}),  # the member unit itself
])
def test_a_unit_may_report_only_its_types(engine, type_: str, unit: str, data: dict) -> None:
    v = check_event(base(type_, unit=unit, **data), engine.ruleset.units, "f", 1, "")
    assert isinstance(v, Rejected) and v.error == f"unit: {unit} may not report {type_}"


def test_acting_for_and_about(engine) -> None:
    """gov_office files the district's plan (its partition is district_government's); the
    committee's finding is about its target, which must be a member unit other than itself."""
    v = check_event(base("unit.annual_plan_filed", unit="gov_office", year=2023), engine.ruleset.units, "f", 1, "")
    assert isinstance(v, Accepted) and v.fact.unit == "gov_office" and v.fact.partition == ("unit", "district_government")
    finding = {"year": 2023, "finding": "duties_unperformed"}
    v = check_event(base("assessment.enforcement_failure", unit="political_legal", target="commerce", **finding),
                    engine.ruleset.units, "f", 1, "")
    assert isinstance(v, Accepted) and v.fact.partition == ("unit", "commerce")
    assert v.fact.get("measures") == ("public_criticism", "one_vote_veto")
    for target in ("political_legal", "district_government", "nobody"):
        v = check_event(base("assessment.enforcement_failure", unit="political_legal", target=target, **finding),
                        engine.ruleset.units, "f", 1, "")
        assert isinstance(v, Rejected) and v.error.startswith("data.target:")


def test_same_content_is_equal_once_validated(engine) -> None:
    """SPEC §2: defaults filled in and instants normalised before two events are compared."""
    a = base("victim.rescued", age=9)
    b = {**base("victim.rescued", age=9, foreign=False), "occurred_at": "2023-03-01T01:30:00Z"}
    c = base("victim.rescued", age=9, foreign=True)
    va, vb, vc = (check_event(e, engine.ruleset.units, "f", 1, "") for e in (a, b, c))
    assert isinstance(va, Accepted) and isinstance(vb, Accepted) and isinstance(vc, Accepted)
    assert va.digest == vb.digest != vc.digest


def test_external_is_an_actor_but_not_a_target(engine) -> None:
    assert isinstance(check_event(base("dna.collected", collector_kind="individual", of="parent"),
                                  engine.ruleset.units, "f", 1, ""), Accepted)


def test_json_lines_keep_line_numbers_and_neighbours(engine) -> None:
    second = json.dumps({**base("birth.delivered", unit="health"), "id": "e2"})
    lines = [json.dumps(base("child.missing_reported", age=5)), "", "{not json", second]
    out = list(read_lines(lines, "f", engine.ruleset.units))
    assert [type(v).__name__ for v in out] == ["Accepted", "Rejected", "Accepted"]
    assert out[1].line == 3 and "malformed JSON" in out[1].error
    assert out[2].line == 4


def test_json_array_input(engine) -> None:
    second = json.dumps({**base("birth.delivered", unit="health"), "id": "e2"})
    doc = "[\n" + json.dumps(base("child.missing_reported", age=5)) + ",\n" + second + "\n]\n"
    out = list(read_stream(io.StringIO(doc), "f", engine.ruleset.units))
    assert [v.line for v in out] == [2, 3]
    assert all(isinstance(v, Accepted) for v in out)


def test_byte_order_mark_and_crlf_are_not_content(engine) -> None:
    line = json.dumps(base("child.missing_reported", age=5))
    second = json.dumps({**base("birth.delivered", unit="health"), "id": "e2"})
    out = list(read_stream(io.StringIO("\ufeff" + line + "\r\n" + second + "\r\n"), "f", engine.ruleset.units))
    assert [type(v).__name__ for v in out] == ["Accepted", "Accepted"]


def test_instant_formatting_agrees_with_datetime() -> None:
    from datetime import datetime

    from hypothesis import given
    from hypothesis import strategies as st

    from oblige.facts.timeutil import MAX_YEAR, MIN_YEAR, ZONE, format_precise, from_us, to_us

    @given(st.integers(min_value=-2_208_988_800 * 10**6, max_value=4_102_444_800 * 10**6))
    def check(us: int) -> None:
        assert format_instant(us) == from_us(us).isoformat(timespec="seconds")
        assert format_precise(us) == from_us(us).isoformat()

    check()
    # the canonical form of every instant an event may have, the whole range's ends included
    lowest = to_us(datetime(MIN_YEAR, 1, 1, tzinfo=ZONE))
    highest = to_us(datetime(MAX_YEAR, 12, 31, 23, 59, 59, 999_999, tzinfo=ZONE))

    @given(st.integers(min_value=lowest, max_value=highest) | st.sampled_from([lowest, highest, 0, -1, 1]))
    def check_precise(us: int) -> None:
        assert format_precise(us) == from_us(us).isoformat()
        assert parse_instant(format_precise(us)) == us

    check_precise()


def test_any_bytes_are_read_the_same_whole_or_by_byte_range(engine, tmp_path_factory) -> None:
    """Arbitrary bytes (bad UTF-8 included) never raise: every line gets a verdict, with its line
    number, and the batch path's range reader gives the same verdicts as the file reader, and so
    does an ingest's reading ahead (pieces of the file read by other processes)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from oblige.engine.batch.evaluator import _split
    from oblige.engine.store import ahead
    from oblige.engine.store.incoming import prepared
    from oblige.facts.files import range_verdicts, read_files
    from tests.conftest import ev

    line = st.tuples(st.binary(max_size=30), st.sampled_from([b"", b"\r", b"\r\r", b"\xff", b"\xe4\xb8"]),
                     st.binary(max_size=10)).map(lambda t: b"{" + b"".join(t).replace(b"\n", b" "))
    good = st.just(json.dumps(ev("g1", "child.missing_reported", "2023-06-01", "public_security", "c1", age=6)).encode())

    @settings(max_examples=60, deadline=None)
    @given(lines=st.lists(line | good, min_size=1, max_size=8), parts=st.integers(1, 3))
    def check(lines: list[bytes], parts: int) -> None:
        path = tmp_path_factory.mktemp("bytes") / "e.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        whole = [(v.line, type(v).__name__, getattr(v, "error", None)) for v in read_files([str(path)], engine.ruleset.units)]
        assert [n for n, _, _ in whole] == list(range(1, len(lines) + 1))
        ranged = [(v.line, type(v).__name__, getattr(v, "error", None))
                  for segment in _split([str(path)], parts) for _, v in range_verdicts(segment, engine.ruleset.units)]
        assert ranged == whole
        ahead.PIECE = max(1, path.stat().st_size // (parts + 1))  # a few pieces, on two readers
        assert list(ahead.read_ahead([str(path)], engine.ruleset.units, threshold=0)) == list(
            prepared(read_files([str(path)], engine.ruleset.units)))

    piece = ahead.PIECE
    try:
        check()
    finally:
        ahead.PIECE = piece
