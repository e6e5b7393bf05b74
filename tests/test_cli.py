"""The command line as a user runs it: formats, stdin, exit codes, parameter and unit files."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from oblige.cli import main
from tests.conftest import ROOT, ev

EXAMPLE = str(ROOT / "examples" / "events.jsonl")


def run(*args: str, input: str | None = None, width: int = 80):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False, env={"COLUMNS": str(width)})


def write(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


def test_eval_json_bundled_example() -> None:
    result = run("eval", EXAMPLE, "--as-of", "2023-12-31", "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["ruleset"] == "xunyang-2022" and doc["as_of"] == "2023-12-31T00:00:00+08:00"
    assert doc["summary"]["events"] == 40 and doc["summary"]["rejected"] == 0  # every line is revision 2 and accepted
    kinds = {(v["rule"], v["kind"]) for v in doc["violations"]}
    assert ("art20.compare_dna_before_registration", "precondition") in kinds
    assert ("art27.placed_with_buyer_family", "prohibited") in kinds
    s = doc["summary"]
    assert s["discharged"] == 2 and s["proposed"] > 0 and s["determined"] > 0 and s["declined"] > 0 and s["rule"] > 0
    assert {o["action"] for o in doc["obligations"] if o["status"] == "discharged"} == {"publish_tuanyuan_alert", "collect_parent_dna"}
    assert doc["obligations"] == sorted(doc["obligations"], key=lambda o: (o["triggered_at"], o["id"]))


def test_table_names_the_units_to_chase() -> None:
    result = run("eval", EXAMPLE, "--as-of", "2023-12-31", "--format", "table", "--lang", "en", width=200)
    assert result.exit_code == 0
    out = result.stdout
    assert "Overdue duties" in out and "Escalations" in out
    assert "Public Security" in out and "Compare DNA before registering a child of unknown origin" in out
    assert "One-vote veto (determined)" in out and "Public criticism (proposed)" in out and "Public criticism (declined)" in out
    assert "2 discharged" in out and "proposed only a recommendation" not in out
    escalation_rows = [line for line in out.split("Escalations")[1].splitlines() if "veto" in line or "criticism" in line]
    assert escalation_rows and all(re.search(r"(One-vote veto|Public criticism) \((proposed|determined|declined)\)", line)
                                   for line in escalation_rows if "│" in line)
    zh = run("eval", EXAMPLE, "--as-of", "2023-12-31", "--format", "table", width=200).stdout  # default: zh
    assert "各单位情况" in zh and "区公安(分)局" in zh and "落户前采血检验入库比对" in zh
    assert "一票否决（决定）" in zh and "通报批评（建议）" in zh and "事由消除 2" in zh and "第二十条" in zh
    assert "Public Security" not in zh
    # a level never appears bare where an Art. 36 measure is listed: it always says 建议/决定/未采纳
    table = zh.split("督办问责", 2)[-1]
    assert not re.search(r"(一票否决|通报批评)(?!（(建议|决定|未采纳)）)", table.split("督办通知依规发出")[0])


def test_narrow_table_keeps_the_basis_whole() -> None:
    out = run("eval", EXAMPLE, "--as-of", "2023-12-31", "--format", "table", "--lang", "en", width=80).stdout
    assert "1 determined" in out and "proposed" in out and "(determined)" in out
    # on a narrow terminal the basis goes on a line of its own under the level, never cut
    bases = re.findall(r"\((?:pro|det|dec)[a-z]*\)?", out.split("Escalations")[-1])
    assert bases and set(bases) <= {"(proposed)", "(determined)", "(declined)"}


@pytest.mark.parametrize("width", [60, 80, 100])
def test_no_word_of_the_table_is_cut_in_english(width: int) -> None:
    """Every word of the names the table shows (units, kinds, rules and duties, levels) stands whole
    between spaces or borders at any terminal width: a column too narrow for its words gives the
    article's column to the title beside it, and a table that still cannot keep its words whole is
    written row by row as records (at 80 columns the escalations folded "Communi|st", the lists
    "Preconditi|on")."""
    doc = _json("eval", EXAMPLE, "--as-of", "2023-12-31", "--lang", "en", "--labels")
    out = run("eval", EXAMPLE, "--as-of", "2023-12-31", "--lang", "en", width=width).stdout
    labels = doc["labels"]
    shown = {*(labels["units"][u] for o in doc["obligations"] for u in [o["duty_bearer"]]),
             *(labels["rules"][v["rule"]] for v in doc["violations"] if v["kind"] != "overdue"),
             *(labels["kind"][v["kind"]] for v in doc["violations"] if v["kind"] != "overdue"),
             *(labels["actions"][o["action"]] for o in doc["obligations"] if o["status"] == "overdue")}
    tokens = set(re.split(r"[\s│┃]+", out))
    cut = sorted({word for name in shown for word in name.split() if word not in tokens})
    assert not cut, cut
    assert all(len(line) <= width for line in out.splitlines()[:-1])  # the last: the explain command, whole
    records = re.findall(r"^── (es-[0-9a-f]{16}) ─+$", out, flags=re.M)
    if width < 100:  # the escalations as records: each under its id, with its level, unit and article
        assert set(records) == {e["id"] for e in doc["escalations"]}
        first = out.split(f"── {records[0]} ")[1].split("\n── ")[0]
        assert {"At", "Level", "Unit", "Art."} <= {line.split()[0] for line in first.splitlines()[1:] if line.strip()}
    else:
        assert not records


@pytest.mark.parametrize("command", [("explain", "vi-acca777f638bd086", EXAMPLE, "--as-of", "2023-12-31"),
                                     ("rules", "show", "art20.collect_parent_dna"), ("rules", "show", "28"),
                                     ("rules", "coverage")])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_an_explanation_is_wrapped_to_the_terminal_and_loses_nothing(command: tuple[str, ...], lang: str) -> None:
    """On a terminal the long lines of an explanation or of a rule as its article's reader sees it
    (clauses, deadline arithmetic, parameters) are broken at its width with a hanging indent, instead
    of the terminal cutting words and the indentation; written to a pipe (no terminal, no $COLUMNS)
    they stay whole, for programs."""
    from rich.cells import cell_len

    args = (*command, "--lang", lang)
    narrow = run(*args, width=60).stdout
    whole = CliRunner().invoke(main, list(args), catch_exceptions=False, env={"COLUMNS": None}).stdout
    assert max(cell_len(line) for line in whole.splitlines()) > 100  # there is something to wrap
    assert all(cell_len(line) <= 60 for line in narrow.splitlines()), [ln for ln in narrow.splitlines() if cell_len(ln) > 60]
    assert "".join(narrow.split()) == "".join(whole.split())  # the same text, only broken
    if lang == "en":  # no English word, id or date cut (Chinese breaks anywhere, a number beside it too);
        # only a word longer than the line less its indent (the rule file's path, as deep as the checkout) is folded
        words, folded = set(whole.split()), [w for w in whole.split() if cell_len(w) > 60 - 16]
        assert all(w in words or any(w in long for long in folded) for w in narrow.split() if w.isascii())
        assert all(w in narrow.split() for w in words if w.isascii() and cell_len(w) <= 60 - 16)
    heads = lambda text: [line.split()[0] for line in text.splitlines() if not line.startswith(" ")]  # noqa: E731
    assert heads(narrow) == heads(whole)  # a broken line goes on indented: the tree keeps its heads


def _json(*args: str) -> dict:
    return json.loads(run(*args, "--format", "json").stdout)


@pytest.mark.parametrize("width", [80, 100, 160])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_table_shows_every_violation_with_its_id(width: int, lang: str) -> None:
    """Skipped checks, prohibited acts and breaches are listed one by one (not only counted), with
    id, unit, article and instant; every finding listed carries its id; the table ends with the
    explain command; nothing is cut at the terminal's edge."""
    doc = _json("eval", EXAMPLE, "--as-of", "2023-12-31")
    out = run("eval", EXAMPLE, "--as-of", "2023-12-31", "--lang", lang, width=width).stdout
    serious = [v for v in doc["violations"] if v["kind"] != "overdue"]
    assert {v["kind"] for v in serious} == {"precondition", "prohibited"}
    title = "跳过的前置核查、禁止行为和履职不当" if lang == "zh" else "Skipped checks, prohibited acts and breaches"
    section = out.split(title)[1].split("逾期未履行事项" if lang == "zh" else "Overdue duties")[0]
    for v in serious:
        row = section.split(v["id"])[1].split("vi-")[0]
        assert ("第二十" if lang == "zh" else "Art. 2") in row
        day = v["at"][:10]
        assert (f"{int(day[:4])}年{int(day[5:7])}月{int(day[8:])}日" if lang == "zh" else day) in row
    assert ("前置程序违反" if lang == "zh" else "Precondition") in section or width < 160  # whole on one line when wide
    overdue = {o["id"] for o in doc["obligations"] if o["status"] == "overdue"}
    for v in doc["violations"]:  # those of duties still overdue are listed under them, by violation id
        assert v["id"] in out or v["kind"] == "overdue" and v["obligation"] not in overdue
    for e in doc["escalations"]:
        assert e["id"] in out
    assert all(len(line) <= width for line in out.splitlines() if "│" in line or "┃" in line)  # cut at no edge
    # every table drawn whole: a line that opens with a border closes with one (rich, printing a table wider
    # than the terminal, cut the per-unit table's last column, the veto, off at 80 columns)
    drawn = [line for line in out.splitlines() if line[:1] in "┏┃┡│└"]
    assert drawn and all(line.rstrip()[-1] in "┓┃┩│┘" for line in drawn), [ln for ln in drawn if ln.rstrip()[-1] not in "┓┃┩│┘"][:3]
    header = next(line for line in out.splitlines() if line.startswith("┃") and ("逾期" in line or "overdue" in line))
    assert ("否决" if lang == "zh" else "veto") in header
    last = out.rstrip().splitlines()
    assert last[-1].strip().startswith("oblige explain ID ") and EXAMPLE in last[-1] and "--as-of 2023-12-31" in last[-1]
    # the command it names works for an id of the table
    explained = run("explain", serious[0]["id"], EXAMPLE, "--as-of", "2023-12-31")
    assert explained.exit_code == 0 and serious[0]["id"] in explained.stdout


def test_findings_table_names_the_explain_command(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 's.db'}"
    assert run("ingest", EXAMPLE, "--db", db).exit_code == 0
    out = run("findings", "--db", db, "--as-of", "2023-12-31", "--unit", "civil_affairs", "--lang", "en", width=120).stdout
    assert "vi-8d045868e4dafba6" in out and "Prohibited act" in out  # civil_affairs placed a child with the buyers
    assert out.rstrip().splitlines()[-1].strip() == f"oblige explain ID --db {db} --as-of 2023-12-31 --lang en"


def test_findings_status_discharged(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 's.db'}"
    assert run("ingest", EXAMPLE, "--db", db).exit_code == 0
    result = run("findings", "--db", db, "--as-of", "2023-12-31", "--status", "discharged", "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert [o["status"] for o in doc["obligations"]] == ["discharged", "discharged"] and doc["violations"] == []
    assert doc["summary"]["discharged"] == 2 and doc["summary"]["filtered"] == {"status": "discharged"}
    assert doc["summary"]["determined"] == 0 and doc["escalations"] == []
    both = json.loads(run("findings", "--db", db, "--as-of", "2023-12-31", "--unit", "civil_affairs", "--format", "json").stdout)
    assert both["summary"]["determined"] == 2 and both["summary"]["rule"] == len(
        [e for e in both["escalations"] if e["basis"] == "rule"])


def test_stdin_and_json_array(tmp_path: Path) -> None:
    events = [ev("a1", "child.missing_reported", "2023-06-01", "public_security", "c1", age=5)]
    r1 = run("eval", "-", "--as-of", "2023-06-10", "--format", "json", input=json.dumps(events[0]) + "\n")
    r2 = run("eval", write(tmp_path, "a.json", json.dumps(events, indent=2)), "--as-of", "2023-06-10", "--format", "json")
    assert r1.exit_code == r2.exit_code == 0
    assert json.loads(r1.stdout)["obligations"] == json.loads(r2.stdout)["obligations"]
    assert len(json.loads(r1.stdout)["obligations"]) > 0


def test_rejected_events_exit_3_and_keep_the_rest(tmp_path: Path) -> None:
    good = json.dumps(ev("g1", "child.missing_reported", "2023-06-01", "public_security", "c1", age=5))
    bad = json.dumps(ev("b1", "child.missing_reported", "2023-06-01", "public_security", "c2", age="five"))
    result = run("eval", write(tmp_path, "e.jsonl", f"{good}\n{bad}\n"), "--as-of", "2023-06-10", "--format", "json",
                 "--fail-on-violation")
    assert result.exit_code == 3  # 3 wins over 1
    doc = json.loads(result.stdout)
    assert doc["rejected"] == [{"file": str(tmp_path / "e.jsonl"), "line": 2, "id": "b1",
                                "error": "data.age: Input should be a valid integer"}]
    assert any(o["subject"] == "c1" for o in doc["obligations"])
    assert "e.jsonl:2: b1: data.age" in result.stderr


def test_fail_on_violation_exit_1(tmp_path: Path) -> None:
    f = write(tmp_path, "e.jsonl", json.dumps(ev("g1", "child.missing_reported", "2023-06-01", "public_security", "c1", age=5)))
    assert run("eval", f, "--as-of", "2023-06-10", "--fail-on-violation").exit_code == 1
    assert run("eval", f, "--as-of", "2023-06-10").exit_code == 0


def test_params_override(tmp_path: Path) -> None:
    f = write(tmp_path, "e.jsonl", json.dumps(ev("g1", "child.missing_reported", "2023-06-01T08:00:00", "public_security", "c1", age=5)))
    p = write(tmp_path, "p.yaml", "tuanyuan_deadline: PT2H\nchild_age_limit: 4\n")
    doc = json.loads(run("eval", f, "--as-of", "2023-06-10", "--format", "json", "--params", p).stdout)
    assert not any(o["subject"] == "c1" for o in doc["obligations"])  # age 5 is not < 4
    p2 = write(tmp_path, "p2.yaml", "tuanyuan_deadline: PT2H\n")
    doc = json.loads(run("eval", f, "--as-of", "2023-06-10", "--format", "json", "--params", p2).stdout)
    alert = next(o for o in doc["obligations"] if o["action"] == "publish_tuanyuan_alert")
    assert alert["due"] == "2023-06-01T10:00:00+08:00"


@pytest.mark.parametrize("text,fragment", [
    ("report_deadlin: PT1H\n", "report_deadlin: unknown parameter"),
    ("report_deadline: soon\n", "report_deadline: not an ISO 8601 duration"),
    ("annual_plan_due: 13-01\n", "annual_plan_due: no such month-day"),
    ("child_age_limit: [1\n", "param_error"),
])
def test_bad_params_file_is_a_usage_error(tmp_path: Path, text: str, fragment: str) -> None:
    f = write(tmp_path, "e.jsonl", "")
    p = write(tmp_path, "p.yaml", text)
    result = run("eval", f, "--as-of", "2023-06-10", "--params", p)
    assert result.exit_code == 2
    assert fragment in result.stderr and "p.yaml" in result.stderr


def test_units_file_replaces_the_registry(tmp_path: Path) -> None:
    units = write(tmp_path, "u.yaml", "members:\n  - {code: public_security, name_zh: 公安, name_en: Police}\n"
                                      "  - {code: water_board, name_zh: 水务, name_en: Water board}\n")
    f = write(tmp_path, "e.jsonl", json.dumps(ev("w1", "unit.self_inspection_completed", "2023-03-01", "water_board", year=2023))
              + "\n" + json.dumps(ev("c1", "unit.self_inspection_completed", "2023-03-01", "commerce", year=2023)) + "\n")
    result = run("eval", f, "--as-of", "2023-06-01", "--format", "json", "--units", units)
    assert result.exit_code == 3  # commerce is not a unit of this registry
    doc = json.loads(result.stdout)
    bearers = {o["duty_bearer"] for o in doc["obligations"]}
    assert bearers == {"public_security", "water_board", "district_government", "joint_conference_office"}
    plan = next(o for o in doc["obligations"] if o["duty_bearer"] == "water_board" and o["period"] == "2023"
                and o["action"] == "complete_self_inspection")
    assert plan["status"] == "fulfilled"
    assert "unknown unit 'commerce'" in doc["rejected"][0]["error"]


@pytest.mark.parametrize("text", ["members: [{code: Bad Code, name_zh: x, name_en: y}]\n", "nothing: here\n",
                                  "members:\n  - {code: a, name_zh: x, name_en: y}\n  - {code: a, name_zh: x, name_en: y}\n"])
def test_bad_units_file_is_a_usage_error(tmp_path: Path, text: str) -> None:
    result = run("eval", write(tmp_path, "e.jsonl", ""), "--units", write(tmp_path, "u.yaml", text))
    assert result.exit_code == 2 and "u.yaml" in result.stderr


def test_unreadable_input_and_bad_as_of_are_usage_errors(tmp_path: Path) -> None:
    assert run("eval", str(tmp_path / "missing.jsonl")).exit_code == 2
    assert run("eval", EXAMPLE, "--as-of", "tomorrow").exit_code == 2


def test_default_as_of_is_now() -> None:
    doc = json.loads(run("eval", EXAMPLE, "--format", "json").stdout)
    assert doc["as_of"] > "2025-01-01"


@pytest.mark.parametrize("workers", ["1", "2", "3"])
def test_eval_with_worker_processes_writes_the_same_bytes(workers: str, tmp_path: Path) -> None:
    """One document writer: the bounded-memory path and the in-memory path give identical bytes,
    for the bundled example and for a JSON array read from standard input alike."""
    plain = run("eval", EXAMPLE, "--as-of", "2023-12-31", "--format", "json")
    streamed = run("eval", EXAMPLE, "--as-of", "2023-12-31", "--format", "json", "--workers", workers)
    assert plain.exit_code == streamed.exit_code == 0 and streamed.stdout == plain.stdout
    assert json.loads(plain.stdout)["summary"]["obligations"] > 100
    lines = Path(EXAMPLE).read_text(encoding="utf-8").splitlines()
    array = write(tmp_path, "a.json", "[\n" + ",\n".join(line for line in lines if line.strip()) + "\n]\n")
    in_memory = run("eval", array, "--as-of", "2023-12-31", "--format", "json")
    bounded = run("eval", array, "--as-of", "2023-12-31", "--format", "json", "--workers", workers)
    assert in_memory.exit_code == bounded.exit_code == 0 and in_memory.stdout == bounded.stdout


def test_streamed_rejections_exit_3(tmp_path: Path) -> None:
    bad = write(tmp_path, "e.jsonl", json.dumps(ev("b1", "child.missing_reported", "2023-06-01", "public_security", "c2", age="x")) + "\n")
    result = run("eval", bad, "--as-of", "2023-06-10", "--format", "json", "--workers", "1")
    assert result.exit_code == 3 and json.loads(result.stdout)["summary"]["rejected"] == 1


def test_parallel_parsing_settles_ids_repeated_across_ranges(tmp_path: Path) -> None:
    """First read wins even when the repeat lands in another worker's byte range."""
    import io

    from oblige import BatchEvaluator, Engine, parse_instant, read_files

    first = ev("k1", "child.missing_reported", "2023-06-01", "public_security", "c1", age=5)
    other = {**first, "occurred_at": "2023-06-02"}
    filler = [json.dumps(ev(f"f{i}", "birth.delivered", "2023-06-01", "health", f"m{i}")) for i in range(200)]
    lines = [json.dumps(first), *filler, json.dumps(other), json.dumps(other), json.dumps(first), "{broken"]
    path = write(tmp_path, "e.jsonl", "\n".join(lines) + "\n")
    engine = Engine.load()
    out = io.StringIO()
    BatchEvaluator(engine, workers=2).run_files([path], parse_instant("2023-06-10"), out, inline=True)
    doc = json.loads(out.getvalue())
    assert doc["summary"]["duplicates"] == 1 and doc["summary"]["events"] == 201
    assert [(r["line"], r["id"]) for r in doc["rejected"]] == [(202, "k1"), (203, "k1"), (205, None)]
    assert doc == engine.evaluate(read_files([path], engine.ruleset.units), parse_instant("2023-06-10")).to_json_dict()


def test_a_worker_killed_mid_run_exits_4_not_a_result(tmp_path: Path) -> None:
    """A dead worker (the out-of-memory killer, a crash in the matching core) ends the run with
    exit 4 and says so; it neither hangs nor exits 0/1/3 as if the document were complete."""
    import subprocess
    import sys

    from bench.generate import generate
    from bench.kill import kill_a_worker_of  # python -m bench.kill runs this scenario in a loop

    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in generate(60_000, 3)), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-c", "from oblige.cli import main; main()", "eval", str(path),
                             "--as-of", "2024-06-01", "--format", "json", "--workers", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    # workers are forked by the run's fork server (a child of the command): kill one of them
    killed, err = kill_a_worker_of(proc)
    assert killed, "no worker process was seen"
    assert proc.returncode == 4, err
    assert "worker process died" in err and "no document was completed" in err


@pytest.mark.parametrize("workers", [None, "1", "2"])
def test_a_byte_that_is_not_utf8_rejects_its_event_only(tmp_path: Path, workers: str | None) -> None:
    """One bad byte is one rejected event (file, line, column), and the events around it are kept —
    in memory, in the streamed evaluator and with parsing split across workers alike."""
    good1 = json.dumps(ev("a1", "child.missing_reported", "2023-06-01T10:00:00", "public_security", "c1", age=6))
    bad = json.dumps(ev("a2", "child.missing_reported", "2023-06-01T11:00:00", "public_security", "c2", age=7))
    good2 = json.dumps(ev("a3", "child.missing_reported", "2023-06-01T12:00:00", "public_security", "c3", age=8))
    path = tmp_path / "e.jsonl"
    path.write_bytes((good1 + "\n").encode() + bad.encode().replace(b'"c2"', b'"c\xff2"') + b"\n" + (good2 + "\n").encode())
    args = ["eval", str(path), "--as-of", "2023-06-10", "--format", "json"] + (["--workers", workers] if workers else [])
    result = run(*args)
    doc = json.loads(result.stdout)
    assert result.exit_code == 3
    assert doc["rejected"] == [{"file": str(path), "line": 2, "id": None,
                                "error": "not UTF-8 text: byte 0xff at column " + str(bad.index('"c2"') + 3)}]
    assert doc["summary"]["events"] == 2
    assert {o["subject"] for o in doc["obligations"] if o["subject"]} == {"c1", "c3"}


def test_a_byte_that_is_not_utf8_in_a_json_array(tmp_path: Path) -> None:
    events = [ev(f"a{n}", "child.missing_reported", "2023-06-01T10:00:00", "public_security", f"c{n}", age=6)
              for n in range(3)]
    text = "[\n" + ",\n".join(json.dumps(e) for e in events) + "\n]\n"
    path = tmp_path / "e.json"
    path.write_bytes(text.encode().replace(b'"c1"', b'"c\xfe1"'))
    doc = json.loads(run("eval", str(path), "--as-of", "2023-06-10", "--format", "json").stdout)
    assert [(r["line"], r["error"].split(":")[0]) for r in doc["rejected"]] == [(3, "not UTF-8 text")]
    assert doc["summary"]["events"] == 2


def test_ingest_keeps_a_non_utf8_line_readable_in_the_rejects_file(tmp_path: Path) -> None:
    good = json.dumps(ev("a1", "child.missing_reported", "2023-06-01T10:00:00", "public_security", "c1", age=6))
    path = tmp_path / "e.jsonl"
    path.write_bytes(good.encode() + b"\n" + b'{"id": "a\xff2"}\n')
    rejects = tmp_path / "rejects.jsonl"
    result = run("ingest", str(path), "--db", f"sqlite:///{tmp_path / 's.db'}", "--rejects", str(rejects))
    assert result.exit_code == 3
    (line,) = rejects.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["raw"] == '{"id": "a\\xff2"}' and json.loads(line)["line"] == 2


# --- mistakes are errors, never plausible reports (issue 17, item 2) ---

@pytest.mark.parametrize("command", [["findings"], ["findings", "--format", "json"], ["explain", "vi-0"]])
def test_reading_commands_never_create_a_database(tmp_path: Path, command: list[str]) -> None:
    typo = tmp_path / "typo.db"
    result = run(*command, "--db", f"sqlite:///{typo}")
    assert result.exit_code == 2 and not typo.exists() and not list(tmp_path.iterdir())
    assert f"no event store at sqlite:///{typo}; create one with oblige ingest" in result.stderr


def test_reading_from_the_wrong_folder_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OBLIGE_DB", raising=False)
    result = CliRunner().invoke(main, ["findings"], catch_exceptions=False)
    assert result.exit_code == 2 and "no event store at sqlite:///oblige.db" in result.stderr
    assert not (tmp_path / "oblige.db").exists()
    db = f"sqlite:///{tmp_path / 'oblige.db'}"
    assert run("ingest", EXAMPLE, "--db", db).exit_code == 0  # ingest creates it; then findings reads it
    assert run("findings", "--db", db, "--as-of", "2023-12-31", "--format", "json").exit_code == 0


def test_an_empty_store_says_so(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'e.db'}"
    records = str(ROOT / "examples" / "unit-records.csv")
    assert run("ingest", records, "--db", db).exit_code == 3  # nothing stored, but the store exists now
    result = run("findings", "--db", db, "--format", "json")
    assert result.exit_code == 0 and "holds no events" in result.stderr


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_an_input_with_every_line_rejected_says_so_loudly(fmt: str) -> None:
    records = str(ROOT / "examples" / "unit-records.csv")  # unit records are not events
    result = run("eval", records, "--as-of", "2024-04-10", "--format", fmt)
    assert result.exit_code == 3
    last = result.stderr.rstrip().splitlines()[-1]
    assert "EVERY ONE of the" in last and "was rejected" in last and "oblige audit" in last
    ingest = run("ingest", records, "--db", "sqlite:///:memory:")
    assert ingest.exit_code == 3 and "nothing was stored" in ingest.stderr.rstrip().splitlines()[-1]
    # one good line among them: the usual rejection lines, no alarm
    good = Path(EXAMPLE).read_text(encoding="utf-8").splitlines()[0]
    mixed = run("eval", "-", "--format", fmt, input=good + "\nnot json\n")
    assert mixed.exit_code == 3 and "EVERY ONE" not in mixed.stderr and "rejected: <stdin>:2" in mixed.stderr


@pytest.mark.parametrize("command", [["eval", EXAMPLE], ["eval", EXAMPLE, "--format", "json"], ["findings", "--db", "x"],
                                     ["audit", str(ROOT / "examples" / "unit-records.csv")]])
def test_an_unknown_unit_is_a_usage_error(command: list[str]) -> None:
    result = run(*command, "--unit", "commerc")
    assert result.exit_code == 2 and "did you mean commerce?" in result.stderr and result.stdout == ""


def test_eval_narrows_like_findings(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 's.db'}"
    assert run("ingest", EXAMPLE, "--db", db).exit_code == 0
    for narrowing in (["--unit", "commerce"], ["--status", "overdue", "--article", "35"], ["--unit", "external"]):
        evaluated = _json("eval", EXAMPLE, "--as-of", "2023-12-31", *narrowing)
        stored = _json("findings", "--db", db, "--as-of", "2023-12-31", *narrowing)
        assert evaluated["summary"]["filtered"] and evaluated == stored
    commerce = _json("eval", EXAMPLE, "--as-of", "2023-12-31", "--unit", "commerce")
    assert {o["duty_bearer"] for o in commerce["obligations"]} == {"commerce"}
    table = run("eval", EXAMPLE, "--as-of", "2023-12-31", "--unit", "commerce", "--lang", "en", width=160).stdout
    assert "Commerce" in table and "Civil Affairs" not in table


def test_audit_unit_shows_only_that_unit(tmp_path: Path) -> None:
    records = str(ROOT / "examples" / "unit-records.csv")
    args = ("audit", records, "--as-of", "2024-04-10", "--unit", "commerce", "--lang", "en")
    table = run(*args, width=200).stdout
    assert "Commerce" in table and "Civil Affairs" not in table and "Finance" not in table
    doc = json.loads(run(*args, "--format", "json").stdout)
    assert list(doc["units"]) == ["commerce"] and {o["duty_bearer"] for o in doc["obligations"]} == {"commerce"}
    rows = run(*args, "--format", "csv").stdout.splitlines()[1:]
    assert rows and all(r.startswith("commerce,") for r in rows)
    html = run(*args, "--format", "html").stdout
    assert "Commerce" in html and "Civil Affairs" not in html


def test_one_language_in_the_table_headline_and_units() -> None:
    zh = run("eval", EXAMPLE, "--as-of", "2023-12-31", width=160).stdout
    assert zh.startswith("浔阳区") and "截至 2023年12月31日 00:00：" in zh and "2023-12-31T" not in zh.split("\n\n")[0]
    assert "区外单位或个人" in zh and "external" not in zh.replace("oblige explain", "")
    en = run("eval", EXAMPLE, "--as-of", "2023-12-31", "--lang", "en", width=160).stdout
    assert en.startswith("Xunyang District implementing rules") and "xunyang-2022" not in en
    assert "as of 2023-12-31 00:00:" in en and "External party" in en


def test_the_command_lines_words_are_the_schemas() -> None:
    """cli.py writes SPEC §4's words out (importing the schema would slow every command's start)."""
    import oblige.cli as cli
    from oblige.engine.rules import schema

    assert (tuple(schema.STATUSES), tuple(schema.LEVELS), tuple(schema.BASES)) == (cli.STATUSES, cli.LEVELS, cli.BASES)
