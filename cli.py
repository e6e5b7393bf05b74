"""The `oblige` command line: thin click commands over `engine`. Exit codes are mapped here.

0 done; 1 --fail-on-violation and violations exist; 2 usage error or unreadable
ruleset/parameters/units; 3 done, but some events were rejected (3 wins over 1).
"""
from __future__ import annotations

import contextlib
import difflib
import io
import ipaddress
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import NoReturn

import click
from pydantic import TypeAdapter
from rich.console import Console

from oblige import Engine, RulesetError, load_ruleset
from oblige.engine.render.audit import audit_csv, audit_html, audit_json, audit_table
from oblige.engine.batch.evaluator import BatchEvaluator
from oblige.engine.rules.casetest import CaseRunner, load_cases
from oblige.engine.rules.catalogue import coverage, describe, parameter_line
from oblige.engine.render.explain import UnknownFinding, explain, render_text
from oblige.engine.core.filters import narrow
from oblige.engine.core.findings import STATUSES, Findings
from oblige.engine.render.i18n import article_label
from oblige.facts.files import InputError, read_files
from oblige.engine.render.labels import add_labels
from oblige.engine.audit.records import load_audit_spec, read_records
from oblige.engine.render.table import render_table
from oblige.engine.store.sql import DEFAULT_URL, Store, StoreError, stored_items
from oblige.facts.events import EVENT_ADAPTER
from oblige.facts.reader import Accepted, Rejected
from oblige.facts.timeutil import TimeFormatError, now, parse_instant

EXIT_OK, EXIT_VIOLATIONS, EXIT_USAGE, EXIT_REJECTED, EXIT_INTERNAL = 0, 1, 2, 3, 4


def _fail(message: str) -> NoReturn:
    click.echo(f"oblige: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _as_of(text: str | None) -> int:
    """`--as-of`: a date means 00:00:00 of that day (+08:00); the default is now."""
    if text is None:
        return now()
    try:
        return parse_instant(text)
    except TimeFormatError as exc:
        _fail(f"--as-of: {exc}")


def _engine(ruleset: str | None, params: str | None, units: str | None) -> Engine:
    try:
        return Engine.load(ruleset, params, units)
    except RulesetError as exc:
        _fail(f"cannot use the ruleset:\n{exc}")


LARGE_INPUT = 20 * 1024 * 1024  # bytes of input above which `eval --format json` streams on both cores
LARGE_STORE = 100_000  # stored events above which `findings --format json` does the same


def _jsonl_files(files: tuple[str, ...]) -> bool:
    """Are all inputs regular, readable JSON Lines files (not stdin, not a JSON array)?"""
    for f in files:
        if f == "-" or not os.path.isfile(f):
            return False
        try:
            with open(f, "rb") as stream:
                head = stream.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        except OSError:
            return False
        if head.startswith(b"["):
            return False
    return True


def _input_size(files: tuple[str, ...]) -> int:
    return sum(os.path.getsize(f) for f in files if f != "-" and os.path.isfile(f))


def _stream_json(engine: Engine, items: Callable[[], Iterable[Accepted | Rejected]] | None, instant: int, workers: int,
                 fail_on_violation: bool, paths: list[str] | None = None, store: Store | None = None) -> NoReturn:
    """Write the findings document in bounded memory (engine.batch) and exit with its code."""
    evaluator = BatchEvaluator(engine, workers)
    try:
        if store is not None:
            summary = evaluator.run_store(store.url, store.max_seq(), instant, sys.stdout)
        elif paths is not None:
            summary = evaluator.run_files(paths, instant, sys.stdout)
        else:
            assert items is not None
            summary = evaluator.run(items(), instant, sys.stdout)
    except (InputError, UnicodeDecodeError) as exc:
        _fail(str(exc))
    except BrokenProcessPool:
        click.echo("oblige: a worker process died or could not start (killed, out of memory?); "
                   "no document was completed", err=True)
        sys.exit(EXIT_INTERNAL)
    sys.stdout.flush()
    if summary.rejected:
        click.echo(f"rejected: {summary.rejected} event(s); see the `rejected` list", err=True)
    sys.exit(EXIT_REJECTED if summary.rejected else
             EXIT_VIOLATIONS if fail_on_violation and summary.violations else EXIT_OK)


def _exit_code(findings: Findings, fail_on_violation: bool) -> int:
    if findings.summary.rejected:
        return EXIT_REJECTED
    if fail_on_violation and findings.summary.violations:
        return EXIT_VIOLATIONS
    return EXIT_OK


def _emit(findings: Findings, engine: Engine, fmt: str, lang: str | None, with_labels: bool) -> None:
    for r in findings.rejected:
        click.echo(f"rejected: {r.file}:{r.line}: {r.id or '-'}: {r.error}", err=True)
    lang = lang or engine.ruleset.header.default_lang
    if fmt == "json" and with_labels:
        click.echo(json.dumps(add_labels(findings.to_json_dict(), engine.ruleset, lang), ensure_ascii=False, indent=1))
    elif fmt == "json":
        click.echo(findings.model_dump_json(indent=1))
    else:
        render_table(findings, engine.ruleset, Console(), lang=lang)


ruleset_option = click.option("--ruleset", "ruleset_path", type=click.Path(), default=None,
                              help="Ruleset directory (default: the bundled xunyang_2022).")
params_option = click.option("--params", "params_file", type=click.Path(), default=None,
                             help="YAML file overriding parameters by name.")
lang_option = click.option("--lang", type=click.Choice(["zh", "en"]), default=None,
                           help="Language of human-readable output (default: the ruleset's, zh for xunyang_2022).")
labels_option = click.option("--labels", "with_labels", is_flag=True,
                             help="JSON: add a `labels` object (unit names, duty titles, statuses, levels) in --lang.")
units_option = click.option("--units", "units_file", type=click.Path(), default=None,
                            help="YAML file replacing the member-unit registry.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="oblige")
def main() -> None:
    """oblige: obligations, violations and escalations from event facts."""


@main.command("eval")
@click.argument("files", nargs=-1, required=True)
@click.option("--as-of", "as_of", default=None, help="Evaluate as of this instant (default: now).")
@params_option
@units_option
@ruleset_option
@click.option("--format", "fmt", type=click.Choice(["json", "table"]), default="table", show_default=True)
@click.option("--fail-on-violation", is_flag=True, help="Exit 1 when any violation exists.")
@lang_option
@labels_option
@click.option("--workers", type=int, default=None,
              help="JSON output in bounded memory with N worker processes (default: 2 for inputs over 20 MB).")
def eval_command(files: tuple[str, ...], as_of: str | None, params_file: str | None, units_file: str | None,
                 ruleset_path: str | None, fmt: str, fail_on_violation: bool, lang: str | None, with_labels: bool,
                 workers: int | None) -> None:
    """Evaluate events from FILES (JSON Lines or a JSON array; - for stdin)."""
    instant = _as_of(as_of)
    engine = _engine(ruleset_path, params_file, units_file)
    if workers is None and fmt == "json" and not with_labels and _input_size(files) > LARGE_INPUT:
        workers = min(2, os.cpu_count() or 1)
    if workers and fmt == "json" and not with_labels:
        if _jsonl_files(files):  # parse on every worker too
            _stream_json(engine, None, instant, workers, fail_on_violation, list(files))
        _stream_json(engine, lambda: read_files(files, engine.ruleset.units), instant, workers, fail_on_violation)
    try:
        findings = engine.evaluate(read_files(files, engine.ruleset.units), instant)
    except InputError as exc:
        _fail(str(exc))
    _emit(findings, engine, fmt, lang, with_labels)
    sys.exit(_exit_code(findings, fail_on_violation))


db_option = click.option("--db", "db_url", envvar="OBLIGE_DB", default=DEFAULT_URL, show_default=True,
                         help="SQLAlchemy URL of the event store (or $OBLIGE_DB), e.g. postgresql+psycopg://user@host/db.")


def _store(url: str) -> Store:
    try:
        return Store(url)
    except StoreError as exc:
        _fail(str(exc))


@main.command("ingest")
@click.argument("files", nargs=-1, required=True)
@db_option
@units_option
@ruleset_option
@click.option("--format", "fmt", type=click.Choice(["json", "table"]), default="table", show_default=True)
@click.option("--rejects", "rejects_file", type=click.Path(dir_okay=False), default=None,
              help="Write each rejected line and its reason to this JSON Lines file.")
def ingest_command(files: tuple[str, ...], db_url: str, units_file: str | None, ruleset_path: str | None,
                   fmt: str, rejects_file: str | None) -> None:
    """Store events from FILES durably and idempotently (default: SQLite file oblige.db here)."""
    engine = _engine(ruleset_path, None, units_file)
    store = _store(db_url)
    try:
        report = store.ingest(read_files(files, engine.ruleset.units), sources=" ".join(files))
    except InputError as exc:
        _fail(str(exc))
    finally:
        store.close()
    for r in report.rejections:
        click.echo(f"rejected: {r.file}:{r.line}: {r.id or '-'}: {r.error}", err=True)
    if rejects_file:
        with open(rejects_file, "w", encoding="utf-8") as out:
            for r in report.rejections:
                out.write(json.dumps({"file": r.file, "line": r.line, "id": r.id, "error": r.error, "raw": r.raw},
                                     ensure_ascii=False) + "\n")
    if fmt == "json":
        click.echo(json.dumps(report.summary()))
    else:
        click.echo("  ".join(f"{k}: {v}" for k, v in report.summary().items()))
    sys.exit(EXIT_REJECTED if report.rejected else EXIT_OK)


@main.command("findings")
@db_option
@click.option("--as-of", "as_of", default=None, help="Evaluate as of this instant (default: now).")
@click.option("--unit", default=None, help="Only findings that concern this unit.")
@click.option("--status", type=click.Choice(list(STATUSES)), default=None,
              help="Only obligations with this status (and what follows from them).")
@click.option("--article", type=int, default=None, help="Only findings under this article.")
@params_option
@units_option
@ruleset_option
@click.option("--format", "fmt", type=click.Choice(["json", "table"]), default="table", show_default=True)
@click.option("--fail-on-violation", is_flag=True, help="Exit 1 when any violation exists.")
@lang_option
@labels_option
def findings_command(db_url: str, as_of: str | None, unit: str | None, status: str | None, article: int | None,
                     params_file: str | None, units_file: str | None, ruleset_path: str | None, fmt: str,
                     fail_on_violation: bool, lang: str | None, with_labels: bool) -> None:
    """Evaluate the stored events, exactly as `eval` would evaluate the same events."""
    instant = _as_of(as_of)
    engine = _engine(ruleset_path, params_file, units_file)
    store = _store(db_url)
    try:
        if fmt == "json" and not with_labels and unit is None and status is None and article is None \
                and store.count() > LARGE_STORE:
            _stream_json(engine, None, instant, min(2, os.cpu_count() or 1), fail_on_violation, store=store)
        findings = engine.evaluate(stored_items(store, engine.ruleset.units), instant)
    finally:
        store.close()
    findings = narrow(findings, unit, status, article)
    _emit(findings, engine, fmt, lang, with_labels)
    sys.exit(_exit_code(findings, fail_on_violation))


@main.command("audit")
@click.argument("records", type=click.Path(dir_okay=False))
@click.option("--as-of", "as_of", default=None, help="Evaluate as of this instant (default: now).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "html"]), default="table", show_default=True)
@click.option("--out", "out_file", type=click.Path(dir_okay=False), default=None, help="Write the report here instead of stdout.")
@click.option("--unit", default=None, help="Only this unit.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default=None, help="Language of table, csv and html (default: the ruleset's).")
@click.option("--excel", is_flag=True, help="CSV with a UTF-8 byte-order mark, for spreadsheet programs.")
@labels_option
@click.option("--fail-on-violation", is_flag=True, help="Exit 1 when any violation exists.")
@params_option
@units_option
@ruleset_option
def audit_command(records: str, as_of: str | None, fmt: str, out_file: str | None, unit: str | None, lang: str | None,
                  excel: bool, with_labels: bool, fail_on_violation: bool, params_file: str | None,
                  units_file: str | None, ruleset_path: str | None) -> None:
    """Audit unit records (CSV or JSON Lines, one row per unit and year) against the unit duties."""
    instant = _as_of(as_of)
    engine = _engine(ruleset_path, params_file, units_file)
    rs = engine.ruleset
    lang = lang or rs.header.default_lang
    try:
        with open(records, encoding="utf-8", newline="") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"{records}: cannot read: {getattr(exc, 'strerror', None) or exc}")
    try:
        spec = load_audit_spec(rs)
    except RulesetError as exc:
        _fail(f"cannot use the ruleset's audit data:\n{exc}")
    items = read_records(text, records, rs, spec)
    with _progress("reading records and evaluating the duties of every unit") as status:
        session = engine.session()
        for n, item in enumerate(items, start=1):
            session.add(item)
            if n % 2000 == 0:
                status(f"read {n:,} record cells")
        status("evaluating")
        findings = narrow(session.findings(instant), unit=unit)
    for r in findings.rejected:
        click.echo(f"rejected: {r.file}:{r.line}: {r.error}", err=True)
    if fmt == "table" and out_file is None:
        audit_table(findings, rs, Console(), lang, spec)
    else:
        if fmt == "json":
            text = audit_json(findings, rs, lang if with_labels else None)
        elif fmt == "csv":
            text = audit_csv(findings, rs, lang, excel)
        elif fmt == "html":
            text = audit_html(findings, rs, lang, spec)
        else:
            buffer = io.StringIO()
            audit_table(findings, rs, Console(file=buffer, width=200, color_system=None), lang, spec)
            text = buffer.getvalue()
        if out_file:
            with open(out_file, "w", encoding="utf-8", newline="") as out:
                out.write(text)
        else:
            click.echo(text, nl=not text.endswith("\n"))
    sys.exit(_exit_code(findings, fail_on_violation))


@contextlib.contextmanager
def _progress(message: str) -> Iterator[Callable[[str], None]]:
    """A transient status line on stderr for long work, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield lambda _text: None
        return
    with Console(stderr=True).status(message) as status:
        yield lambda text: status.update(f"{message}: {text}")


@main.command("serve")
@db_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--tokens", "tokens_file", type=click.Path(dir_okay=False), default=None,
              help="YAML or JSON tokens file; without it the server binds to loopback only.")
@click.option("--max-body", default=10 * 1024 * 1024, show_default=True, type=int, help="Largest request body, bytes.")
@click.option("--max-events", default=10_000, show_default=True, type=int, help="Most events in one request.")
@params_option
@units_option
@ruleset_option
def serve_command(db_url: str, host: str, port: int, tokens_file: str | None, max_body: int, max_events: int,
                  params_file: str | None, units_file: str | None, ruleset_path: str | None) -> None:
    """Serve the JSON HTTP API (events, evaluate, findings, explain, rules) with uvicorn."""
    import uvicorn

    from oblige.engine.http.app import Limits, create_app
    from oblige.engine.http.tokens import TokensFileError, load_tokens

    engine = _engine(ruleset_path, params_file, units_file)
    tokens = None
    if tokens_file:
        try:
            tokens = load_tokens(Path(tokens_file), engine.ruleset.units.codes)
        except TokensFileError as exc:
            _fail(str(exc))
    elif not _is_loopback(host):
        _fail(f"refusing to serve on {host} without --tokens: without tokens the server binds to loopback only")
    _store(db_url).close()  # fail now, not on the first request, if the database cannot be used
    app = create_app(engine, db_url, tokens, Limits(max_body, max_events))
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@main.command("schema")
@click.argument("which", type=click.Choice(["events", "findings"]))
def schema_command(which: str) -> None:
    """Print the JSON Schema of the event vocabulary or of the findings document."""
    model = EVENT_ADAPTER if which == "events" else TypeAdapter(Findings)
    schema = model.json_schema(mode="validation" if which == "events" else "serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "oblige event" if which == "events" else "oblige findings document"
    click.echo(json.dumps(schema, ensure_ascii=False, indent=1))


@main.command("explain")
@click.argument("finding_id")
@click.argument("files", nargs=-1)
@click.option("--db", "db_url", envvar="OBLIGE_DB", default=None,
              help="Explain from the event store at this URL instead of FILES.")
@click.option("--as-of", "as_of", default=None, help="Evaluate as of this instant (default: now).")
@params_option
@units_option
@ruleset_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@lang_option
def explain_command(finding_id: str, files: tuple[str, ...], db_url: str | None, as_of: str | None,
                    params_file: str | None, units_file: str | None, ruleset_path: str | None, fmt: str,
                    lang: str | None) -> None:
    """Why FINDING_ID exists: rule, article and clause, events, deadline arithmetic, escalation chain.

    The events come from FILES (as for `eval`) or, with --db, from the event store."""
    if not files and not db_url:
        _fail("explain needs the event FILES the finding came from, or --db URL")
    instant = _as_of(as_of)
    engine = _engine(ruleset_path, params_file, units_file)
    session = engine.session()
    if files:
        try:
            session.add_all(read_files(files, engine.ruleset.units))
        except InputError as exc:
            _fail(str(exc))
    else:
        assert db_url is not None
        store = _store(db_url)
        try:
            session.add_all(stored_items(store, engine.ruleset.units))
        finally:
            store.close()
    findings = session.findings(instant)
    lang = lang or engine.ruleset.header.default_lang
    try:
        doc = explain(finding_id, findings, engine.ruleset, session.facts(), lang)
    except UnknownFinding as exc:
        _fail(str(exc))
    if fmt == "json":
        click.echo(json.dumps(doc, ensure_ascii=False, indent=1))
    else:
        click.echo(render_text(doc, engine.ruleset, lang))


@main.group("rules")
def rules_group() -> None:
    """Inspect, check and test rulesets."""


@rules_group.command("list")
@click.option("--article", type=int, default=None, help="Only the rules of this article.")
@ruleset_option
@lang_option
def rules_list(article: int | None, ruleset_path: str | None, lang: str | None) -> None:
    """One line per rule: id, article, kind, action and title."""
    rs = _engine(ruleset_path, None, None).ruleset
    lang = lang or rs.header.default_lang
    for located in rs.rules:
        if article is None or located.article == article:
            d = describe(located)
            click.echo(f"{d['id']:<44} art.{d['article']:<3} {d['kind']:<11} {d.get('action', '-'):<40} {d['title'][lang]}")


@rules_group.command("show")
@click.argument("rule_id")
@ruleset_option
@lang_option
def rules_show(rule_id: str, ruleset_path: str | None, lang: str | None) -> None:
    """A rule as a reader of the article sees it, with its quoted clause."""
    rs = _engine(ruleset_path, None, None).ruleset
    located = rs.rule(rule_id)
    if located is None:
        near = difflib.get_close_matches(rule_id, [w.rule.id for w in rs.rules], n=5, cutoff=0.4)
        _fail(f"no rule {rule_id!r}" + (f"; did you mean: {', '.join(near)}" if near else ""))
    d = describe(located, rs)
    lang = lang or rs.header.default_lang
    click.echo(f"{d['id']}  ({article_label(d['article'], lang)}, {d['kind']})  {d['file']}:{d['line']}")
    click.echo(f"  {d['title'][lang]}")
    click.echo(f"  clause:        {d['clause']}")
    for key in ("action", "duty_bearer", "trigger", "fulfilled_by", "deadline", "discharged_by", "act", "charged",
                "while_open", "reading"):
        if key in d:
            click.echo(f"  {key + ':':<15}{d[key]}")
    if d["parameters"]:
        click.echo("  parameters:")
        for p in d["parameters"]:
            click.echo(f"    {parameter_line(p)}")


@rules_group.command("coverage")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@ruleset_option
@lang_option
def rules_coverage(fmt: str, ruleset_path: str | None, lang: str | None) -> None:
    """All articles: the rules that encode each, or why it holds no checkable duty."""
    rs = _engine(ruleset_path, None, None).ruleset
    if fmt == "json":  # machine format: codes and the English reasons
        click.echo(json.dumps(coverage(rs), ensure_ascii=False, indent=1))
        return
    lang = lang or rs.header.default_lang
    rows = coverage(rs, lang)
    none = "（无可核查职责）" if lang == "zh" else "(no checkable duty) "
    left_out = "    未建模：" if lang == "zh" else "    not modelled: "
    for row in rows:
        head = f"{article_label(row['article'], lang)}  " if lang == "zh" else f"Art. {row['article']:>2}  "
        click.echo(head + (", ".join(row["rules"]) if row["rules"] else f"{none}{row['reason']}"))
        for item in row["not_modelled"]:
            click.echo(left_out + item["what"] + (f"「{item['clause']}」" if item["clause"] else ""))
    accounted = sum(1 for r in rows if r["rules"] or r["reason"])
    gaps = sum(len(r["not_modelled"]) for r in rows)
    click.echo(f"{accounted}/{len(rows)} " + ("条均已说明" if lang == "zh" else "articles accounted for")
               + (f"；未建模事项 {gaps} 项" if lang == "zh" else f"; {gaps} item(s) deliberately not modelled"))


@rules_group.command("validate")
@click.argument("path", required=False)
def rules_validate(path: str | None) -> None:
    """Check a ruleset directory; every problem is listed as file:line: code: rule: field: message."""
    try:
        rs = load_ruleset(path)
    except RulesetError as exc:
        for error in exc.errors:
            click.echo(str(error), err=True)
        click.echo(f"{len(exc.errors)} problem(s)", err=True)
        sys.exit(EXIT_USAGE)
    click.echo(f"{rs.name}: {len(rs.rules)} rules, {len(rs.specs)} parameters, {len(rs.units.members)} member units: valid")


@rules_group.command("test")
@click.argument("path", required=False)
def rules_test(path: str | None) -> None:
    """Run the ruleset's own test cases (tests/*.yaml in the ruleset directory)."""
    engine = _engine(path, None, None)
    try:
        cases = load_cases(engine.ruleset.path / "tests")
    except RulesetError as exc:
        _fail(str(exc))
    runner = CaseRunner(engine)
    passed = failed = 0
    for case in cases:
        problems = runner.run(case)
        if problems:
            failed += 1
            click.echo(f"FAIL {case.file}:{case.line}: {case.note}")
            for problem in problems:
                click.echo(f"  {problem}")
        else:
            passed += 1
    click.echo(f"{passed} passed, {failed} failed")
    sys.exit(EXIT_OK if failed == 0 else EXIT_VIOLATIONS)


if __name__ == "__main__":
    main()
