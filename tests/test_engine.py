"""The embedding API: engines are isolated, sessions are thread-safe."""
from __future__ import annotations

import threading

from oblige import Engine
from oblige.engine.rules.params import build_params
from oblige.facts.timeutil import parse_instant
from tests.conftest import ev, verdicts

MISSING = [ev("m1", "child.missing_reported", "2023-06-01T08:00:00+08:00", "public_security", "c1", age=5)]


def alert_due(engine: Engine) -> str:
    doc = engine.evaluate(verdicts(engine, MISSING), parse_instant("2023-06-10")).to_json_dict()
    return next(o["due"] for o in doc["obligations"] if o["action"] == "publish_tuanyuan_alert")


def test_two_engines_with_different_parameters_do_not_interfere(engine: Engine) -> None:
    rs = engine.ruleset
    params, errors = build_params(rs.specs, {"tuanyuan_deadline": "PT1H"}, "test")
    assert not errors and params is not None
    fast = Engine(rs.with_params(params))
    for _ in range(2):
        assert alert_due(engine) == "2023-06-02T08:00:00+08:00"
        assert alert_due(fast) == "2023-06-01T09:00:00+08:00"


def test_one_engine_from_many_threads(engine: Engine) -> None:
    expected = engine.evaluate(verdicts(engine, MISSING), parse_instant("2023-06-10")).to_json_dict()
    results: list[dict] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                results.append(engine.evaluate(verdicts(engine, MISSING), parse_instant("2023-06-10")).to_json_dict())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 30 and all(r == expected for r in results)


def test_one_session_from_many_threads(engine: Engine) -> None:
    events = [ev(f"m{i}", "child.missing_reported", "2023-06-01", "public_security", f"c{i}", age=5) for i in range(60)]
    session = engine.session()
    chunks = [events[i::4] for i in range(4)]
    threads = [threading.Thread(target=session.add_all, args=(verdicts(engine, c),)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    batch = engine.evaluate(verdicts(engine, events), parse_instant("2023-06-10")).to_json_dict()
    assert session.findings(parse_instant("2023-06-10")).to_json_dict() == batch


def test_many_subjects_stay_within_durable_rules_session_limits(engine: Engine) -> None:
    """More than 1,024 partitions in one evaluation (durable_rules allows 1,024 live sessions)."""
    events = [ev(f"r{i}", "victim.rescued", "2023-06-01", "public_security", f"v{i}", age=30) for i in range(1500)]
    doc = engine.evaluate(verdicts(engine, events), parse_instant("2023-07-01")).to_json_dict()
    care = [o for o in doc["obligations"] if o["action"] == "provide_medical_and_psychological_care"]
    assert len(care) == 1500 and all(o["status"] == "overdue" for o in care)


def test_a_fulfilment_never_crosses_subjects(engine: Engine) -> None:
    """Regression (found by hypothesis): a placement of s1 fulfilled s2's placement duty when
    durable_rules dropped the same-subject join from a pattern with a nested `$and`."""
    events = [ev("h5", "child.handed_to_civil_affairs", "2022-05-12", "public_security", "s2"),
              ev("h7", "child.placed", "2022-05-12", "civil_affairs", "s1", placement="foster_family")]
    doc = engine.evaluate(verdicts(engine, events), parse_instant("2022-06-30")).to_json_dict()
    placement = next(o for o in doc["obligations"] if o["action"] == "arrange_placement")
    assert placement["subject"] == "s2" and placement["fulfilled_by"] is None and placement["status"] == "overdue"


def test_compiled_patterns_are_flat(engine: Engine) -> None:
    from oblige.engine.core.compile import compile_ruleset

    def nested(term: object, depth: int = 0) -> bool:
        if isinstance(term, dict):
            return any((k in ("$and", "$or") and depth > 0) or nested(v, depth + (k in ("$and", "$or"))) for k, v in term.items())
        if isinstance(term, list):
            return any(nested(t, depth) for t in term)
        return False

    for name, rule in compile_ruleset(engine.ruleset).definition.items():
        for pattern in rule["all"]:
            assert not nested(pattern), name


def test_in_conditions_match_each_value(engine: Engine) -> None:
    events = [ev("a", "child.unknown_origin_found", "2023-01-01", "civil_affairs", "k1", circumstance="abandoned"),
              ev("b", "child.unknown_origin_found", "2023-01-01", "civil_affairs", "k2", circumstance="wandering"),
              ev("c", "child.unknown_origin_found", "2023-01-01", "civil_affairs", "k3", circumstance="screening"),
              ev("d", "child.taken_into_care", "2023-01-01T10:00", "civil_affairs", "k2")]
    doc = engine.evaluate(verdicts(engine, events), parse_instant("2023-02-01")).to_json_dict()
    care = {o["subject"]: o["status"] for o in doc["obligations"] if o["action"] == "take_into_care"}
    assert care == {"k1": "overdue", "k2": "fulfilled"}


def test_findings_for_one_subject_match_the_full_document(engine: Engine) -> None:
    events = [ev("m1", "child.missing_reported", "2023-06-01T08:00:00+08:00", "public_security", "c1", age=5),
              ev("m2", "tuanyuan.alert_published", "2023-06-03T08:00:00+08:00", "public_security", "c1"),
              ev("r1", "victim.rescued", "2023-06-01", "public_security", "c2", age=30)]
    session = engine.session()
    session.add_all(verdicts(engine, events))
    as_of = parse_instant("2023-09-01")
    full = session.findings(as_of)
    one = session.findings_for("c1", as_of)
    assert one.obligations == [o for o in full.obligations if o.subject == "c1"]
    assert one.violations == [v for v in full.violations if v.subject == "c1"]
    ids = {v.id for v in one.violations}
    assert one.escalations == [e for e in full.escalations if set(e.because) & ids]
    assert session.findings_for("nobody", as_of).obligations == []
