"""The engine knows no ruleset (issue 14): everything Xunyang-specific is ruleset data.

1. A second, fictional ruleset (tests/rulesets/yunzhou_school_2023: other articles, units,
   always-present units, parameters, reporters, ladder, plan period and audit) loads, validates,
   evaluates, audits and passes its own cases through the command line, with no engine change.
2. The Xunyang ruleset copied with every unit code renamed gives the same findings, under the
   new codes, for a rich event set and for the example unit records.
"""
from __future__ import annotations

import csv
import io
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from oblige.cli import main

ROOT = Path(__file__).resolve().parents[1]
XUNYANG = ROOT / "rulesets" / "xunyang_2022"
YUNZHOU = Path(__file__).resolve().parent / "rulesets" / "yunzhou_school_2023"
SHARED = ROOT.parent / "shared" / "examples"
SCENARIOS = Path(__file__).resolve().parent / "scenarios"


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False, env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def by(items: list[dict[str, Any]], **want: Any) -> list[dict[str, Any]]:
    return [i for i in items if all(i.get(k) == v for k, v in want.items())]


# --- 1. a second ruleset --------------------------------------------------------------------


def test_second_ruleset_validates() -> None:
    code, out, err = cli("rules", "validate", str(YUNZHOU))
    assert code == 0, err
    assert "yunzhou-school-2023: 7 rules, 8 parameters, 5 member units: valid" in out


def test_second_ruleset_passes_its_own_cases() -> None:
    code, out, _ = cli("rules", "test", str(YUNZHOU))
    assert code == 0, out
    assert "5 passed, 0 failed" in out


def test_second_ruleset_knows_nothing_of_xunyang() -> None:
    """Its data names none of Xunyang's units, and Xunyang's units are not actors in it."""
    xunyang = yaml.safe_load((XUNYANG / "units.yaml").read_text(encoding="utf-8"))
    codes = {u["code"] for u in xunyang["members"] + xunyang["others"]}
    ours = yaml.safe_load((YUNZHOU / "units.yaml").read_text(encoding="utf-8"))
    assert not codes & {u["code"] for u in ours["members"] + ours["others"]}
    line = json.dumps({"id": "x1", "type": "suspicion.observed", "occurred_at": "2023-05-01", "unit": "joint_conference_office",
                       "subject": "p", "data": {"observer_role": "teacher"}})
    result = CliRunner().invoke(main, ["eval", "-", "--ruleset", str(YUNZHOU), "--as-of", "2023-06-01", "--format", "json"],
                                input=line + "\n", catch_exceptions=False)
    assert result.exit_code == 3
    doc = json.loads(result.stdout)
    assert doc["summary"]["events"] == 0 and "joint_conference_office" in doc["rejected"][0]["error"]


@pytest.fixture(scope="module")
def yunzhou_doc() -> dict[str, Any]:
    code, out, err = cli("eval", str(YUNZHOU / "events.jsonl"), "--ruleset", str(YUNZHOU),
                         "--as-of", "2024-02-22", "--format", "json")
    assert code == 3, err  # one event is rejected: edu_sports may not report a birth certificate
    return json.loads(out)


def test_second_ruleset_evaluates(yunzhou_doc: dict[str, Any]) -> None:
    doc = yunzhou_doc
    assert doc["ruleset"] == doc["receipt"]["ruleset"] == "yunzhou-school-2023"
    obligations, violations, escalations = doc["obligations"], doc["violations"], doc["escalations"]
    # Art. 2: a compulsory-education dropout, not brought back in three days (dropout_return_deadline)
    [ob] = by(obligations, action="bring_back_dropout", subject="pupil-1")
    assert (ob["duty_bearer"], ob["status"], ob["due"], ob["article"]) == \
        ("edu_sports", "overdue", "2023-04-06T08:00:00+08:00", 2)
    assert not by(obligations, subject="pupil-9")  # a dropout at another stage owes nothing
    assert by(obligations, action="school_reports_harm", subject="pupil-2")[0]["status"] == "fulfilled"
    # Art. 3: discharged (found in time) and late
    assert by(obligations, action="publish_missing_alert", subject="pupil-3")[0]["status"] == "discharged"
    assert by(obligations, action="publish_missing_alert", subject="pupil-4")[0]["status"] == "fulfilled_late"
    # Art. 4: the always-present government owes the work plan; the grace moves 2023's due to 04-30
    [plan] = by(obligations, action="file_work_plan", period="2023")
    assert (plan["duty_bearer"], plan["status"], plan["due"]) == ("yz_government", "fulfilled", "2023-04-30T00:00:00+08:00")
    assert by(obligations, action="file_work_plan", period="2024")[0]["due"] == "2024-03-31T23:59:59+08:00"
    assert by(obligations, action="campus_self_inspection", duty_bearer="fire_rescue", period="2023")[0]["status"] == "overdue"
    assert {o["period"] for o in by(obligations, action="campus_self_inspection")} == {"2023", "2024"}  # plan years, not 2022
    # violations with this ruleset's rules and units
    assert Counter((v["rule"], v["unit"], v["kind"]) for v in violations) == Counter({
        ("art02.bring_back_dropout", "edu_sports", "overdue"): 1,
        ("art03.publish_missing_alert", "police_branch", "overdue"): 1,
        ("art03.unverified_birth_certificate", "health_comm", "prohibited"): 1,
        ("art04.campus_self_inspection", "fire_rescue", "overdue"): 1})
    # the ladder: notices by the campus-safety office, Art. 5 measures proposed to the inspectorate
    notices = by(escalations, level="supervision_notice")
    assert {(e["unit"], e["issued_by"], e["basis"], e["article"]) for e in notices} == {
        (u, "campus_safety_office", "rule", 5) for u in ("edu_sports", "police_branch", "health_comm", "fire_rescue")}
    [crit] = by(escalations, level="public_criticism", unit="edu_sports")
    assert (crit["basis"], crit["issued_by"], crit["at"]) == ("proposed", "ed_inspectorate", "2023-04-20T08:00:00+08:00")  # + P14D
    assert by(escalations, level="public_criticism", unit="fire_rescue")[0]["at"] == "2024-01-14T23:59:59+08:00"
    assert not by(escalations, level="public_criticism", unit="police_branch")  # remedied within criticism_after
    # the inspectorate's finding determines criticism of health_comm (replacing the proposal); its veto stays proposed
    assert [(e["basis"], e["because"]) for e in by(escalations, level="public_criticism", unit="health_comm")] == [("determined", ["f1"])]
    assert by(escalations, level="one_vote_veto", unit="health_comm")[0]["basis"] == "proposed"
    assert {e["unit"] for e in by(escalations, level="one_vote_veto")} == {"edu_sports", "health_comm", "fire_rescue"}
    assert doc["summary"]["rejected"] == 1
    assert doc["rejected"][0]["error"] == "unit: edu_sports may not report birth_certificate.issued"


def test_second_ruleset_declines_after_its_review() -> None:
    code, out, _ = cli("eval", str(YUNZHOU / "events.jsonl"), "--ruleset", str(YUNZHOU), "--as-of", "2024-03-15", "--format", "json")
    doc = json.loads(out)
    assert {(e["unit"], e["level"]) for e in by(doc["escalations"], basis="declined")} == {
        ("edu_sports", "public_criticism"), ("edu_sports", "one_vote_veto"), ("health_comm", "one_vote_veto"),
        ("fire_rescue", "public_criticism"), ("fire_rescue", "one_vote_veto")}
    assert by(doc["obligations"], action="yearly_review", period="2023")[0]["status"] == "fulfilled"


def test_second_ruleset_tables_speak_its_ladder() -> None:
    code, out, _ = cli("eval", str(YUNZHOU / "events.jsonl"), "--ruleset", str(YUNZHOU), "--as-of", "2024-02-22", "--lang", "zh")
    assert code == 3
    assert "区政府教育督导室考核决定" in out and "区委政法委" not in out
    assert "年度考核一票否决（建议）" in out and "校园安全办公室" in out
    code, out, _ = cli("eval", str(YUNZHOU / "events.jsonl"), "--ruleset", str(YUNZHOU), "--as-of", "2024-02-22")
    assert "Education Inspectorate" in out and "political-legal" not in out  # the ruleset's default language is en


def test_second_ruleset_explains_with_its_ladder(yunzhou_doc: dict[str, Any]) -> None:
    [notice] = by(yunzhou_doc["escalations"], level="supervision_notice", unit="fire_rescue")
    code, out, err = cli("explain", notice["id"], str(YUNZHOU / "events.jsonl"), "--ruleset", str(YUNZHOU),
                         "--as-of", "2024-02-22", "--lang", "zh")
    assert code == 0, err
    assert "成员单位或校园安全办公室的每项违规" in out and "联席会议" not in out


def test_second_ruleset_audits() -> None:
    code, out, err = cli("audit", str(YUNZHOU / "unit-records.csv"), "--ruleset", str(YUNZHOU),
                         "--as-of", "2024-04-10", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc["units"]) == {"edu_sports", "police_branch", "health_comm", "ed_inspectorate", "fire_rescue",
                                 "yz_government", "campus_safety_office"}
    [missed] = doc["violations"]
    assert (missed["rule"], missed["unit"], missed["period"]) == ("art04.campus_self_inspection", "fire_rescue", "2023")
    # the failed_duties cell is the inspectorate's finding about the row's unit, dated review_due of 2024
    assert {(e["level"], e["basis"], e["at"]) for e in by(doc["escalations"], unit="fire_rescue")} == {
        ("supervision_notice", "rule", "2023-12-31T23:59:59+08:00"),
        ("public_criticism", "determined", "2024-02-28T00:00:00+08:00"),
        ("one_vote_veto", "determined", "2024-02-28T00:00:00+08:00")}
    assert doc["units"]["fire_rescue"]["escalations_by_basis"]["one_vote_veto"]["determined"] == 1
    assert by(doc["obligations"], action="yearly_review", period="2023")[0]["status"] == "fulfilled"
    code, html, _ = cli("audit", str(YUNZHOU / "unit-records.csv"), "--ruleset", str(YUNZHOU), "--as-of", "2024-04-10",
                        "--format", "html", "--lang", "zh")
    assert "校园安全成员单位履职审计" in html and "区消防救援大队" in html and "区政府教育督导室考核决定" in html
    assert "反拐" not in html and "区委政法委" not in html


def test_second_ruleset_audit_rejects_other_districts_units(tmp_path: Path) -> None:
    records = tmp_path / "r.csv"
    records.write_text("unit,year,self_inspection_done\ncommerce,2023,2023-12-01\nedu_sports,2022,2022-12-01\n", encoding="utf-8")
    code, out, err = cli("audit", str(records), "--ruleset", str(YUNZHOU), "--as-of", "2024-04-10", "--format", "json")
    assert code == 3
    errors = [r["error"] for r in json.loads(out)["rejected"]]
    assert any("unknown unit 'commerce'" in e for e in errors)
    assert any("2022 is outside the plan period 2023-2025" in e for e in errors)


def test_second_ruleset_units_file_replaces_only_members(tmp_path: Path) -> None:
    """`--units` replaces the members; the ruleset's `others` (yz_government, campus_safety_office) stay."""
    units = tmp_path / "units.yaml"
    units.write_text("members:\n"
                     "  - {code: edu_sports, name_zh: 区教体局, name_en: Education and Sports Bureau}\n"
                     "  - {code: police_branch, name_zh: 区公安分局, name_en: Public Security Branch}\n"
                     "  - {code: health_comm, name_zh: 区卫健委, name_en: Health Commission}\n"
                     "  - {code: ed_inspectorate, name_zh: 区政府教育督导室, name_en: Education Inspectorate}\n", encoding="utf-8")
    code, out, err = cli("eval", str(YUNZHOU / "events.jsonl"), "--ruleset", str(YUNZHOU), "--units", str(units),
                         "--as-of", "2024-02-22", "--format", "json")
    doc = json.loads(out)
    assert not by(doc["obligations"], duty_bearer="fire_rescue")  # no longer a member: owes nothing
    assert by(doc["obligations"], action="file_work_plan", duty_bearer="yz_government", period="2023")[0]["status"] == "fulfilled"
    assert by(doc["escalations"], level="supervision_notice", unit="edu_sports")[0]["issued_by"] == "campus_safety_office"
    units.write_text("members:\n  - {code: campus_safety_office, name_zh: 办公室, name_en: Office}\n", encoding="utf-8")
    code, out, err = cli("eval", str(YUNZHOU / "events.jsonl"), "--ruleset", str(YUNZHOU), "--units", str(units))
    assert code == 2 and "'campus_safety_office' always exists and is not a member unit" in err


# --- 2. Xunyang with every unit code renamed ------------------------------------------------

PREFIX = "x_"
# keys whose values (a string or a list of strings) may be unit codes, in every ruleset file and test case
UNIT_KEYS = {"code", "by", "acting_for", "issued_by", "issued_by_when_self", "charges", "exempt", "duty_bearer", "units",
             "charged", "reported_by", "unit", "target"}


def _codes() -> set[str]:
    raw = yaml.safe_load((XUNYANG / "units.yaml").read_text(encoding="utf-8"))
    return {u["code"] for u in raw["members"] + raw["others"]}


CODES = _codes()


def rename(value: Any, key: str | None = None) -> Any:
    """Rename every unit code held under a unit key (never a vocabulary value such as
    collector_kind: public_security)."""
    if isinstance(value, dict):
        return {k: rename(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [rename(v, key) for v in value]
    if isinstance(value, str) and key in UNIT_KEYS and value in CODES:
        return PREFIX + value
    return value


def back(value: Any) -> Any:
    """The renamed codes back to the original ones, wherever they appear in a document."""
    if isinstance(value, dict):
        return {back(k): back(v) for k, v in value.items()}
    if isinstance(value, list):
        return [back(v) for v in value]
    if isinstance(value, str):
        if value.startswith(PREFIX) and value[len(PREFIX):] in CODES:
            return value[len(PREFIX):]
        for code in sorted(CODES, key=len, reverse=True):  # in messages ("unit: x_commerce may not report ...")
            value = value.replace(PREFIX + code, code)
    return value


@pytest.fixture(scope="module")
def renamed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("renamed") / "xunyang_renamed"
    shutil.copytree(XUNYANG, target, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    for file in target.rglob("*.yaml"):
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        file.write_text(yaml.safe_dump(rename(data), allow_unicode=True, sort_keys=False), encoding="utf-8")
    leftover = [(f.name, c) for f in target.rglob("*.yaml") for c in CODES
                if any(line.strip(" -").startswith(f"{k}: {c}") for line in f.read_text(encoding="utf-8").splitlines()
                       for k in UNIT_KEYS)]
    assert not leftover
    return target


def _events() -> list[str]:
    """examples/events.jsonl, the shared acceptance events and the escalation scenario's, plus bad lines."""
    lines = [line for line in (ROOT / "examples" / "events.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    sources = sorted(SHARED.glob("*.json")) + [SCENARIOS / "case-escalation.json"]
    for path in sources:
        case = json.loads(path.read_text(encoding="utf-8"))
        stem = path.stem[:12]
        for event in case.get("events", []):
            lines.append(json.dumps({**event, "id": f"{stem}.{event['id']}",
                                     "subject": f"{stem}.{event['subject']}" if event.get("subject") else event.get("subject")},
                                    ensure_ascii=False))
        lines += [f"{line}" for line in case.get("lines", []) if line.strip()]
    # an event its unit may not report, an unknown unit, and the committee's decisions about a renamed unit
    lines.append(json.dumps({"id": "bad.1", "type": "unit.annual_plan_filed", "occurred_at": "2023-02-01", "unit": "commerce",
                             "data": {"year": 2023}}))
    lines.append(json.dumps({"id": "dec.1", "type": "assessment.enforcement_failure", "occurred_at": "2024-03-20",
                             "unit": "political_legal", "data": {"year": 2023, "target": "commerce",
                                                                 "finding": "duties_unperformed"}}))
    lines.append(json.dumps({"id": "dec.2", "type": "assessment.completed", "occurred_at": "2024-03-25",
                             "unit": "political_legal", "data": {"year": 2023}}))
    return lines


def _rename_line(line: str) -> str:
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return line
    return json.dumps(rename(event), ensure_ascii=False) if isinstance(event, dict) else line


def _veto_candidates_only(doc: dict[str, Any]) -> dict[str, Any]:
    """The document with each proposed (or declined) veto's `because` replaced by a marker, after
    checking that it names a violation the veto may rest on: one of that unit and year, still
    unremedied at the veto's instant. Several may qualify at the same instant (a unit's duties all
    missed at the year's end); which one is kept among equals must not depend on ids, which hash
    unit codes - test_renamed_ruleset_same_veto_reason checks that on its own."""
    doc = json.loads(json.dumps(doc))
    violations = {v["id"]: v for v in doc["violations"]}
    for e in doc["escalations"]:
        if e["level"] != "one_vote_veto" or e["basis"] == "determined":
            continue
        [ref] = e["because"]
        v = violations[ref]
        year = (v["period"] or v["at"])[:4]
        assert v["unit"] == e["unit"] and year == e["period"], (e, v)
        assert v["remedied_at"] is None or v["remedied_at"] > e["at"], (e, v)
        e["because"] = ["(a violation of the unit and year, unremedied at the veto)"]
    return doc


def _canonical(doc: dict[str, Any]) -> dict[str, Any]:
    """Findings without their ids: each reference to a finding becomes that finding's content, so
    two documents compare equal whether or not ids hash unit codes. File paths become names."""
    content: dict[str, str] = {}

    def strip(item: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in item.items() if k != "id"}
        for key in ("obligation", "because", "evidence", "triggered_by", "fulfilled_by"):
            if isinstance(out.get(key), str):
                out[key] = content.get(out[key], out[key])
            elif isinstance(out.get(key), list):
                out[key] = [content.get(r, r) for r in out[key]]
        return out

    result: dict[str, Any] = {}
    for section in ("obligations", "violations", "escalations"):
        items = [strip(i) for i in doc[section]]
        for raw, item in zip(doc[section], items, strict=True):
            content[raw["id"]] = json.dumps(item, sort_keys=True, ensure_ascii=False)
        result[section] = sorted(json.dumps(i, sort_keys=True, ensure_ascii=False) for i in items)
    result["rejected"] = sorted(json.dumps({**r, "file": Path(r["file"]).name, "raw": None}, sort_keys=True, ensure_ascii=False)
                                for r in doc["rejected"])
    result["summary"] = doc["summary"]
    result["as_of"] = doc["as_of"]
    if "units" in doc:
        result["units"] = doc["units"]
    return result


def test_renamed_ruleset_validates_and_passes_its_cases(renamed: Path) -> None:
    code, out, err = cli("rules", "validate", str(renamed))
    assert code == 0, err
    assert "24 member units: valid" in out
    code, out, _ = cli("rules", "test", str(renamed))
    assert code == 0, out
    assert " 0 failed" in out


def _event_files(tmp_path: Path) -> tuple[Path, Path]:
    """The rich event set as the original ruleset reads it, and with every unit code renamed."""
    lines = _events()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    original, other = tmp_path / "a" / "events.jsonl", tmp_path / "b" / "events.jsonl"
    original.write_text("\n".join(lines) + "\n", encoding="utf-8")
    other.write_text("\n".join(_rename_line(line) for line in lines) + "\n", encoding="utf-8")
    return original, other


@pytest.mark.parametrize("as_of", ["2023-06-10", "2023-12-31", "2024-04-10", "2025-01-05"])
def test_renamed_ruleset_same_findings(renamed: Path, tmp_path: Path, as_of: str) -> None:
    original, other = _event_files(tmp_path)
    code_a, out_a, _ = cli("eval", str(original), "--as-of", as_of, "--format", "json")
    code_b, out_b, _ = cli("eval", str(other), "--ruleset", str(renamed), "--as-of", as_of, "--format", "json")
    assert code_a == code_b == 3
    doc_a, doc_b = json.loads(out_a), json.loads(out_b)
    assert doc_a["summary"]["obligations"] > 100 and doc_a["summary"]["escalations"] > 20  # a rich set
    # the renamed document speaks only the new codes ...
    units_b = {o["duty_bearer"] for o in doc_b["obligations"]} | {v["unit"] for v in doc_b["violations"]} \
        | {e["unit"] for e in doc_b["escalations"]} | {e["issued_by"] for e in doc_b["escalations"]}
    assert units_b and all(u.startswith(PREFIX) or u == "external" for u in units_b)
    assert {"x_joint_conference_office", "x_political_legal"} <= units_b
    # ... and says the same thing
    assert _canonical(_veto_candidates_only(back(doc_b))) == _canonical(_veto_candidates_only(doc_a))
    assert Counter(e["basis"] for e in doc_a["escalations"]) == Counter(e["basis"] for e in doc_b["escalations"])
    assert len(doc_a["obligations"]) == len(doc_b["obligations"]) and len(doc_a["violations"]) == len(doc_b["violations"])


def test_renamed_ruleset_same_veto_reason(renamed: Path, tmp_path: Path) -> None:
    original, other = _event_files(tmp_path)
    _, out_a, _ = cli("eval", str(original), "--as-of", "2024-04-10", "--format", "json")
    _, out_b, _ = cli("eval", str(other), "--ruleset", str(renamed), "--as-of", "2024-04-10", "--format", "json")
    # among equal candidates the veto rests on the same violation, whatever the units are called
    assert _canonical(back(json.loads(out_b))) == _canonical(json.loads(out_a))


def test_renamed_ruleset_same_audit(renamed: Path, tmp_path: Path) -> None:
    text = (ROOT / "examples" / "unit-records.csv").read_text(encoding="utf-8")
    rows = text.splitlines()
    renamed_rows = [rows[0]] + [(PREFIX + row if row.split(",", 1)[0] in CODES else row) for row in rows[1:]]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "records.csv").write_text(text, encoding="utf-8")
    (tmp_path / "b" / "records.csv").write_text("\n".join(renamed_rows) + "\n", encoding="utf-8")
    code_a, out_a, _ = cli("audit", str(tmp_path / "a" / "records.csv"), "--as-of", "2024-04-10", "--format", "json")
    code_b, out_b, _ = cli("audit", str(tmp_path / "b" / "records.csv"), "--ruleset", str(renamed), "--as-of", "2024-04-10",
                           "--format", "json")
    assert code_a == code_b
    doc_a, doc_b = json.loads(out_a), json.loads(out_b)
    assert set(doc_b["units"]) == {PREFIX + c for c in CODES}
    assert doc_a["summary"]["violations"] > 0 and by(doc_a["escalations"], basis="determined")
    assert _canonical(_veto_candidates_only(back(doc_b))) == _canonical(_veto_candidates_only(doc_a))
    # the human formats name the renamed units by their (unchanged) names: the zh CSV speaks Chinese
    # only (headers, units, duties, statuses, escalations), so both rulesets give the same text
    _, zh_a, _ = cli("audit", str(tmp_path / "a" / "records.csv"), "--as-of", "2024-04-10", "--format", "csv")
    _, zh_b, _ = cli("audit", str(tmp_path / "b" / "records.csv"), "--ruleset", str(renamed), "--as-of", "2024-04-10",
                     "--format", "csv")
    rows_a, rows_b = (list(csv.reader(io.StringIO(text))) for text in (zh_a, zh_b))
    assert rows_a[0] == rows_b[0] == ["单位", "事项", "条款", "期间", "对象", "期限", "状态", "履行时间", "督办问责"]
    assert PREFIX not in zh_b and "overdue" not in zh_b
    # every row alike but for which of a unit's equal veto candidates carries its veto (see above) ...
    assert sorted(r[:-1] for r in rows_a[1:]) == sorted(r[:-1] for r in rows_b[1:])
    # ... and each unit's escalations, counted by level and basis, alike
    steps = lambda rows: Counter((r[0], step) for r in rows[1:] for step in r[-1].split("；") if step)  # noqa: E731
    assert steps(rows_a) == steps(rows_b) and steps(rows_a)
    # the en CSV keeps the codes beside its labels: the renamed codes, mapped back, give the same CSV
    _, en_a, _ = cli("audit", str(tmp_path / "a" / "records.csv"), "--as-of", "2024-04-10", "--format", "csv", "--lang", "en")
    _, en_b, _ = cli("audit", str(tmp_path / "b" / "records.csv"), "--ruleset", str(renamed), "--as-of", "2024-04-10",
                     "--format", "csv", "--lang", "en")
    rows_a, rows_b = (list(csv.reader(io.StringIO(text))) for text in (en_a, back(en_b)))
    assert rows_a[0] == rows_b[0] and rows_a[0][-2:] == ["escalations", "escalations_label"]
    assert sorted(r[:-2] for r in rows_a[1:]) == sorted(r[:-2] for r in rows_b[1:])
    steps = lambda rows: Counter((r[0], step) for r in rows[1:] for step in r[-2].split())  # noqa: E731
    assert steps(rows_a) == steps(rows_b)
