"""The `oblige` command line: click options over engine functions.

Exit codes (SPEC §5) and every message to stderr are decided here, in one place each:
0 done; 1 --fail-on-violation and violations exist; 2 usage error, unreadable ruleset,
parameters or units, or a database that cannot be used; 3 done, but some events were rejected
(3 wins over 1); 4 not done: a worker process died.
"""
from __future__ import annotations

import contextlib
import difflib
import functools
import io
import ipaddress
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

if TYPE_CHECKING:  # imported where used: `oblige --version` must start fast
    from oblige.engine.core.engine import Engine
    from oblige.engine.core.findings import Findings, Rejection, Summary
    from oblige.engine.store.sql import Store
    from oblige.facts.reader import Rejected

T = TypeVar("T")
EXIT_OK, EXIT_VIOLATIONS, EXIT_USAGE, EXIT_REJECTED, EXIT_INTERNAL = 0, 1, 2, 3, 4
# SPEC §4's words, written out: importing them from the rule schema costs every command ~70 ms (tested equal)
STATUSES = ("open", "fulfilled", "fulfilled_late", "overdue", "discharged")
LEVELS = ("supervision_notice", "public_criticism", "one_vote_veto")
BASES = ("rule", "proposed", "determined", "declined")


class _Progress:
    """Progress of long work on stderr (rich): a spinner, what is being done and how many items so
    far, shown only after `delay` seconds (quick commands stay silent), only when stderr is a
    terminal and never with --quiet; gone when the work is done."""

    def __init__(self, message: str, quiet: bool, streaming: bool = False) -> None:
        import os
        import threading

        self.message = self.description = message
        # not over a document being written to the same terminal meanwhile
        self.shown = not quiet and sys.stderr.isatty() and not (streaming and sys.stdout.isatty())
        if not self.shown:
            return
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                                 console=Console(stderr=True), transient=True, redirect_stdout=False,
                                 redirect_stderr=False)
        self.task = self.progress.add_task(message, total=None)
        self.timer = threading.Timer(float(os.environ.get("OBLIGE_PROGRESS_DELAY", "1")), self.progress.start)
        self.timer.daemon = True
        self.timer.start()

    def update(self, text: str) -> None:
        if self.shown:
            self.description = text
            self.progress.update(self.task, description=text)

    def counter(self, said: str) -> Callable[[int], None] | None:
        """A callback for the engine (e.g. `on_partitions`) that shows its running count after what
        is shown now (`said` formats {n}); None when nothing is shown, so the engine counts nothing.
        Safe from any thread (rich updates under its own lock)."""
        if not self.shown:
            return None

        def show(n: int) -> None:
            self.progress.update(self.task, description=f"{self.description}: {said.format(n=n)}")

        return show

    def count(self, items: Iterable[T], said: str, then: str | None = None, every: int = 500) -> Iterator[T]:
        """Pass `items` through, saying how many went by (`said` formats {n}), and `then` what follows."""
        n = 0
        for n, item in enumerate(items, start=1):
            if self.shown and n % every == 0:
                self.update(f"{self.message}: {said.format(n=n)}")
            yield item
        if then:
            self.update(f"{said.format(n=n)}; {then}")

    def close(self) -> None:
        if self.shown:
            self.timer.cancel()
            self.progress.stop()


@contextlib.contextmanager
def _progress(message: str, quiet: bool, streaming: bool = False) -> Iterator[_Progress]:
    progress = _Progress(message, quiet, streaming)
    try:
        yield progress
    finally:
        progress.close()


def _words(engine: Engine, lang: str | None) -> dict[str, str]:
    from oblige.engine.render.i18n import UI

    return UI[lang or engine.ruleset.header.default_lang]


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(f"oblige: {message}", err=True)
    sys.exit(code)


@contextlib.contextmanager
def _guard() -> Iterator[None]:
    """Failures that end a command, each as one line and its exit code (never a traceback).

    The error types are imported when one is raised: the store's pulls in SQLAlchemy (~0.2 s),
    which `eval` never needs."""
    try:
        yield
    except Exception as exc:
        from oblige.engine.rules.errors import RulesetError
        from oblige.engine.store.sql import StoreError
        from oblige.facts.files import InputError

        if isinstance(exc, (InputError, StoreError)):
            _fail(str(exc))
        if isinstance(exc, RulesetError):
            _fail(f"cannot use the ruleset (or its --params or --units file):\n{exc}")
        if isinstance(exc, BrokenProcessPool):
            _fail("a worker process died or could not start (killed, out of memory?); no document was completed",
                  EXIT_INTERNAL)
        raise


def _reject_lines(rejections: Sequence[Rejection | Rejected]) -> None:
    for r in rejections:  # an id where one was readable
        click.echo(f"rejected: {r.file}:{r.line}: " + (f"{r.id}: " if r.id else "") + r.error, err=True)


NOTHING_ACCEPTED = ("oblige: EVERY ONE of the {n} input line(s) was rejected: {what} — is it the right file? Events are "
                    "JSON Lines or a JSON array of events (`oblige schema events`); unit records go to `oblige audit`.")


def _done(summary: Summary, fail_on_violation: bool, rejections: Sequence[Rejection | Rejected] | None = None,
          empty: str | None = None) -> NoReturn:
    """Report rejections and exit with the code the document calls for; `empty`: what to say when
    there was no event at all (an empty store)."""
    if empty and not summary.events and not summary.rejected and not summary.duplicates:
        click.echo(f"oblige: {empty} holds no events: the findings are those of no events at all", err=True)
    if rejections is not None:
        _reject_lines(rejections)
    elif summary.rejected:
        click.echo(f"rejected: {summary.rejected} event(s); see the `rejected` list", err=True)
    if summary.rejected and not summary.events and not summary.duplicates:  # last on stderr, where it is seen
        click.echo(NOTHING_ACCEPTED.format(n=summary.rejected, what="no event was evaluated, and the findings above "
                                           "are those of no events at all (every duty of every unit overdue)"), err=True)
    sys.stdout.flush()
    sys.exit(EXIT_REJECTED if summary.rejected else
             EXIT_VIOLATIONS if fail_on_violation and summary.violations else EXIT_OK)


def _as_of(text: str | None, option: str = "--as-of") -> int:
    """`--as-of` (or another instant `option`): a date means 00:00:00 of that day (+08:00); the
    default is now. A bad one is named by its option."""
    from oblige.facts.timeutil import TimeFormatError, parse_as_of

    try:
        return parse_as_of(text)
    except TimeFormatError as exc:
        _fail(f"{option}: {exc}")


def _paged_as_of(text: str | None, cursor: str | None) -> int:
    """`--as-of` of a page: a next page (`--cursor`) asked without one is read at its first page's."""
    from oblige.engine.store.reads import CursorError, page_as_of

    try:
        at = page_as_of(None if text is None else _as_of(text), cursor)
    except CursorError as exc:
        _fail(f"--{exc}".replace(" as_of", " --as-of"))
    return _as_of(None) if at is None else at


def _check_period(period: str | None) -> None:
    """`--period`: a year or a quarter; a typo is a usage error, never an empty report."""
    from oblige.engine.core.filters import period_problem

    problem = None if period is None else period_problem(period)
    if problem:
        _fail(f"--period: {problem}")


def _check_unit(engine: Engine, unit: str | None) -> None:
    """`--unit`: a code of the unit registry (or `external`); a typo is a usage error, never an empty report."""
    problem = None if unit is None else engine.ruleset.units.unknown_unit(unit)
    if problem:
        _fail(f"--unit: {problem}")


def _engine(ruleset: str | None, params: str | None, units: str | None) -> Engine:
    from oblige.engine.core.engine import Engine

    with _guard():
        return Engine.load(ruleset, params, units)


def _explain_hint(sources: Sequence[str], as_of: str | None, instant: int, options: dict[str, str | None]) -> str:
    """The `oblige explain` command that explains a finding of this document (ID where the id goes)."""
    import shlex

    from oblige.facts.timeutil import format_instant

    words = ["oblige", "explain", "ID", *sources, "--as-of", as_of or format_instant(instant) or ""]
    for option, value in options.items():
        if value is not None:
            words += [option, value]
    return " ".join(w if w == "ID" else shlex.quote(w) for w in words)


def _emit(findings: Findings, engine: Engine, fmt: str, lang: str | None, with_labels: bool,
          hint: str | None = None) -> None:
    """A document already in memory, as JSON (the one document writer) or as the terminal table."""
    from oblige.engine.core import document

    lang = lang or engine.ruleset.header.default_lang
    if fmt == "json":
        extra: dict[str, object] | None = None
        if with_labels:
            from oblige.engine.render.labels import labels

            extra = {"labels": {"lang": lang, **labels(engine.ruleset, lang)}}
        document.write_findings(sys.stdout, findings, extra)
    else:
        from rich.console import Console

        from oblige.engine.render.table import render_table

        render_table(findings, engine.ruleset, Console(), lang=lang, explain_hint=hint)


ruleset_option = click.option("--ruleset", "ruleset_path", type=click.Path(), default=None,
                              help="Ruleset directory (default: the bundled ruleset).")
params_option = click.option("--params", "params_file", type=click.Path(), default=None,
                             help="YAML file overriding parameters by name.")
lang_option = click.option("--lang", type=click.Choice(["zh", "en"]), default=None,
                           help="Language of human-readable output (default: the ruleset's default_lang).")
labels_option = click.option("--labels", "with_labels", is_flag=True,
                             help="JSON: add a `labels` object (unit names, duty titles, statuses, levels) in --lang.")
def filter_options(command: Callable[..., None]) -> Callable[..., None]:
    """`--unit`, `--status` and `--article`: the lists narrowed, the same on every command that has them."""
    for option in reversed((
            click.option("--unit", default=None, help="Only findings that concern this unit."),
            click.option("--status", type=click.Choice(list(STATUSES)), default=None,
                         help="Only obligations with this status (and what follows from them)."),
            click.option("--article", type=click.IntRange(1, 9999), default=None,
                         help="Only findings under this article."))):
        command = option(command)
    return command


quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress display on stderr (shown on a terminal after a second).")
units_option = click.option("--units", "units_file", type=click.Path(), default=None,
                            help="YAML file replacing the member-unit registry.")


class _Commands(click.Group):
    """The command group; a reader that closes the pipe early (`| head`) ends a command quietly."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # the reader has all it wanted: no traceback, and never exit 1 (violations exist)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(EXIT_OK)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="oblige")
def main() -> None:
    """oblige: obligations, violations and escalations from event facts."""


@contextlib.contextmanager
def _output(out_file: str | None) -> Iterator[None]:
    """Standard output to `out_file` instead, written whole or not at all: into a temporary file
    beside it, renamed over it when the command ends with a document (exit 0, 1 or 3)."""
    if out_file is None:
        yield
        return
    import tempfile

    target = os.path.abspath(out_file)
    try:
        fd, temporary = tempfile.mkstemp(prefix=".oblige-", suffix=".tmp", dir=os.path.dirname(target))
    except OSError as exc:
        _fail(f"--out {out_file}: cannot write there: {exc.strerror}")
    stream = open(fd, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed below, then renamed
    saved, sys.stdout = sys.stdout, stream
    written = False
    try:
        yield
        written = True
    except SystemExit as exc:
        written = exc.code in (None, EXIT_OK, EXIT_VIOLATIONS, EXIT_REJECTED)
        raise
    finally:
        sys.stdout = saved
        stream.close()
        if written:
            os.replace(temporary, target)
        else:
            os.unlink(temporary)


def _writes_document(command: Callable[..., None]) -> Callable[..., None]:
    """`--out FILE` for a command that writes a document to standard output."""

    @click.option("--out", "out_file", type=click.Path(dir_okay=False), default=None,
                  help="Write the output to this file (whole or not at all) instead of standard output.")
    @functools.wraps(command)
    def with_out(*args: Any, out_file: str | None = None, **kwargs: Any) -> None:
        with _output(out_file):
            command(*args, **kwargs)

    return with_out


def _spare_final_collections() -> None:
    """Once this command is done the process ends: move what lives then out of the collector's
    reach, so that the interpreter's final collections do not walk it (0.2 s after a
    100,000-event `eval`, measured). Nothing is lost: standard output and error are still flushed
    and closed, and every file the command wrote is closed by then (by `with`)."""
    import atexit
    import gc

    atexit.unregister(gc.freeze)  # once, however many commands a test process runs
    atexit.register(gc.freeze)


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
              help="JSON output in bounded memory with N worker processes (default: 2 for inputs over 2 MB; 0: in memory).")
@filter_options
@quiet_option
@_writes_document
def eval_command(files: tuple[str, ...], as_of: str | None, params_file: str | None, units_file: str | None,
                 ruleset_path: str | None, fmt: str, fail_on_violation: bool, lang: str | None, with_labels: bool,
                 workers: int | None, unit: str | None, status: str | None, article: int | None, quiet: bool) -> None:
    """Evaluate events from FILES (JSON Lines or a JSON array; - for stdin)."""
    whole = fmt == "json" and not with_labels and unit is None and status is None and article is None
    if whole:  # first: the workers' fork server imports the engine while this process does
        from oblige.engine.batch.run import warm_up_for

        warm_up_for(files, workers)
    instant = _as_of(as_of)
    _spare_final_collections()
    if whole:
        from oblige.engine.batch.run import parse_early

        with contextlib.ExitStack() as run:
            # large files: the workers parse them while this process loads its engine
            early = parse_early(files, workers, (ruleset_path, params_file, units_file))
            if early is not None:
                run.enter_context(early)
            engine = _engine(ruleset_path, params_file, units_file)
            words = _words(engine, lang)
            with _guard(), _progress(words["p_writing"], quiet, streaming=True) as progress:
                written = engine.write_document(sys.stdout, instant, paths=files, workers=workers, early=early,
                                                on_partitions=progress.counter(words["p_partitions"]))
        _done(written.summary, fail_on_violation, written.rejected)
    engine = _engine(ruleset_path, params_file, units_file)
    _check_unit(engine, unit)
    words = _words(engine, lang)
    from oblige.facts.files import read_files

    with _guard(), _progress(words["p_events"], quiet) as progress:
        findings = engine.evaluate(progress.count(read_files(files, engine.ruleset.units), words["p_read"],
                                                    words["p_evaluating"]), instant,
                                   progress.counter(words["p_partitions"]))
    from oblige.engine.core.filters import narrow

    findings = narrow(findings, unit, status, article)
    sources = ["FILE…"] if "-" in files else list(files)  # events read from stdin must be saved to be explained
    options = {"--params": params_file, "--units": units_file, "--ruleset": ruleset_path, "--lang": lang}
    _emit(findings, engine, fmt, lang, with_labels, _explain_hint(sources, as_of, instant, options))
    _done(findings.summary, fail_on_violation, findings.rejected)


db_option = click.option("--db", "db_url", envvar="OBLIGE_DB", default="sqlite:///oblige.db", show_default=True,
                         help="SQLAlchemy URL of the event store (or $OBLIGE_DB), e.g. postgresql+psycopg://user@host/db.")


def _store(url: str, create: bool = False) -> Store:
    """The event store at `url`; only `ingest` creates one (a reading command on a mistyped URL or in
    the wrong folder is an error, never an empty store that reports every duty overdue)."""
    from oblige.engine.store.sql import Store

    with _guard():
        return Store(url, create=create)


@main.command("ingest")
@click.argument("files", nargs=-1, required=True)
@db_option
@params_option
@units_option
@ruleset_option
@click.option("--format", "fmt", type=click.Choice(["json", "table"]), default="table", show_default=True)
@click.option("--rejects", "rejects_file", type=click.Path(dir_okay=False), default=None,
              help="Write each rejected line and its reason to this JSON Lines file.")
@quiet_option
def ingest_command(files: tuple[str, ...], db_url: str, params_file: str | None, units_file: str | None,
                   ruleset_path: str | None, fmt: str, rejects_file: str | None, quiet: bool) -> None:
    """Store events from FILES durably and idempotently (default: SQLite file oblige.db here), and
    bring the findings kept in the store up to date with them."""
    from oblige.engine.store.ahead import read_ahead, warm_up

    warm_up(files)  # first: the readers' fork server imports while this process does
    from oblige.engine.store.live import ingest

    engine = _engine(ruleset_path, params_file, units_file)
    store = _store(db_url, create=True)
    words = _words(engine, None)
    with _guard(), _progress(words["p_storing"], quiet) as progress:
        try:
            try:
                report, keeper, refreshed = ingest(
                    engine, store, progress.count(read_ahead(files, engine.ruleset.units), words["p_read"]),
                    " ".join(files), keeping=lambda: progress.update(words["p_keeping"]),
                    progress=lambda n: progress.update(words["p_kept"].format(n=n)), read_with_engine=True)
            except BrokenProcessPool:
                _fail("a worker process died or could not start (killed, out of memory?); the events stored before "
                      "it stay stored: run the same ingest again to finish (repeats count as duplicates)", EXIT_INTERNAL)
            if refreshed is None:
                click.echo(f"oblige: {keeper.mismatch()}; the events are stored, their findings not kept", err=True)
        finally:
            store.close()
    _reject_lines(report.rejections)
    if report.rejected and not report.stored and not report.duplicates:
        click.echo(NOTHING_ACCEPTED.format(n=report.rejected, what="nothing was stored"), err=True)
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


def store_filter_options(command: Callable[..., None]) -> Callable[..., None]:
    """The filters and pages only the kept findings of a store answer."""
    for option in reversed((
            click.option("--subject", default=None, help="Only findings about this subject."),
            click.option("--period", default=None, help="Only findings of this period (e.g. 2023 or 2023-Q2)."),
            click.option("--level", type=click.Choice(list(LEVELS)), default=None, help="Only escalations of this level."),
            click.option("--basis", type=click.Choice(list(BASES)), default=None, help="Only escalations of this basis."),
            click.option("--limit", type=click.IntRange(1, 1_000_000), default=None,
                         help="At most this many items of each list; the document ends with the `next` cursor."),
            click.option("--cursor", default=None, help="The next page: the `next` of the previous page."),
            click.option("--rebuild", is_flag=True,
                         help="Derive every kept finding again with these rules, parameters and units first."))):
        command = option(command)
    return command


@main.command("findings")
@db_option
@click.option("--as-of", "as_of", default=None, help="Evaluate as of this instant (default: now).")
@filter_options
@store_filter_options
@params_option
@units_option
@ruleset_option
@click.option("--format", "fmt", type=click.Choice(["json", "table"]), default="table", show_default=True)
@click.option("--fail-on-violation", is_flag=True, help="Exit 1 when any violation exists.")
@lang_option
@labels_option
@quiet_option
@_writes_document
def findings_command(db_url: str, as_of: str | None, unit: str | None, status: str | None, article: int | None,
                     subject: str | None, period: str | None, level: str | None, basis: str | None,
                     limit: int | None, cursor: str | None, rebuild: bool,
                     params_file: str | None, units_file: str | None, ruleset_path: str | None, fmt: str,
                     fail_on_violation: bool, lang: str | None, with_labels: bool, quiet: bool) -> None:
    """The findings of the stored events as of any instant, exactly as `eval` would give them for
    the same events: read from the findings the store keeps (derived when events are ingested)."""
    from oblige.engine.core.filters import Filters
    from oblige.engine.store.live import stored_document, stored_findings

    instant = _paged_as_of(as_of, cursor)
    engine = _engine(ruleset_path, params_file, units_file)
    _check_unit(engine, unit)
    _check_period(period)
    store = _store(db_url)
    words = _words(engine, lang)
    filters = Filters(unit=unit, status=status, article=article, subject=subject, period=period, level=level,
                      basis=basis)
    source = f"the event store at {store.shown_url}"

    def said(n: int) -> None:
        progress.update(words["p_kept"].format(n=n))

    with _guard():
        try:
            if fmt == "json" and not with_labels:
                with _progress(words["p_writing"], quiet, streaming=True) as progress:
                    written = stored_document(engine, store, sys.stdout, instant, filters, limit, cursor,
                                              rebuild=rebuild, progress=said)
                if written.warning:
                    click.echo(f"oblige: {written.warning}", err=True)
                _done(written.summary, fail_on_violation, None, source)
            with _progress(words["p_stored"], quiet) as progress:
                findings, written = stored_findings(engine, store, instant, filters, limit, cursor, rebuild=rebuild,
                                                    progress=said)
        finally:
            store.close()
    if written.warning:
        click.echo(f"oblige: {written.warning}", err=True)
    options = {"--params": params_file, "--units": units_file, "--ruleset": ruleset_path, "--lang": lang}
    _emit(findings, engine, fmt, lang, with_labels, _explain_hint(["--db", db_url], as_of, instant, options))
    if written.next is not None:
        click.echo(f"oblige: more on the next page: --cursor {written.next.encode()}", err=True)
    _done(findings.summary, fail_on_violation, findings.rejected, source)


@main.command("agenda")
@db_option
@click.option("--unit", required=True, help="The unit whose duties fall due.")
@click.option("--from", "start", default=None, help="Window start (default: now).")
@click.option("--to", "end", default=None, help="Window end (default: 30 days after the start).")
@click.option("--as-of", "as_of", default=None, help="What is known as of this instant (default: the window start).")
@click.option("--limit", type=click.IntRange(1, 1_000_000), default=None, help="At most this many items.")
@click.option("--format", "fmt", type=click.Choice(["json", "table"]), default="table", show_default=True)
@lang_option
@params_option
@units_option
@ruleset_option
@_writes_document
def agenda_command(db_url: str, unit: str, start: str | None, end: str | None, as_of: str | None, limit: int | None,
                   fmt: str, lang: str | None, params_file: str | None, units_file: str | None,
                   ruleset_path: str | None) -> None:
    """What falls due for a unit: its open obligations due in the window, soonest first, and the
    escalations that follow if they stay undone."""
    from oblige.engine.render.agenda import render_agenda
    from oblige.engine.store.live import agenda
    from oblige.facts.timeutil import DAY_US

    engine = _engine(ruleset_path, params_file, units_file)
    _check_unit(engine, unit)
    first = _as_of(start, "--from")
    last = _as_of(end, "--to") if end else first + 30 * DAY_US
    known = _as_of(as_of) if as_of else first
    if last < first:
        _fail("--to: before --from")
    store = _store(db_url)
    with _guard():
        try:
            items = agenda(engine, store, unit, first, last, known, limit, lang)
        finally:
            store.close()
    render_agenda(sys.stdout, engine.ruleset, unit, first, last, items, fmt, lang or engine.ruleset.header.default_lang)
    sys.exit(EXIT_OK)


@main.command("audit")
@click.argument("records", type=click.Path(dir_okay=False))
@click.option("--as-of", "as_of", default=None, help="Evaluate as of this instant (default: now).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "html", "xlsx"]), default="table", show_default=True,
              help="xlsx: an Excel workbook (matrix, violations, escalations), written to --out.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False), default=None,
              help="Write the report here instead of stdout (required for xlsx).")
@click.option("--unit", default=None, help="Only this unit.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default=None,
              help="Language of table, csv, html and xlsx (default: the ruleset's).")
@click.option("--excel", is_flag=True, help="CSV with a UTF-8 byte-order mark, for spreadsheet programs.")
@labels_option
@click.option("--fail-on-violation", is_flag=True, help="Exit 1 when any violation exists.")
@params_option
@units_option
@ruleset_option
@quiet_option
def audit_command(records: str, as_of: str | None, fmt: str, out_file: str | None, unit: str | None, lang: str | None,
                  excel: bool, with_labels: bool, fail_on_violation: bool, params_file: str | None,
                  units_file: str | None, ruleset_path: str | None, quiet: bool) -> None:
    """Audit unit records (CSV, JSON Lines or an .xlsx workbook's first sheet, one row per unit and
    year) against the unit duties."""
    from rich.console import Console

    from oblige.engine.audit.records import load_audit_spec, read_records
    from oblige.engine.audit.xlsx_records import WorkbookError, is_workbook, read_xlsx_records
    from oblige.engine.core.filters import narrow
    from oblige.engine.render.audit import audit_csv, audit_html, audit_json, audit_table

    if fmt == "xlsx" and out_file is None:
        _fail("--format xlsx writes a workbook: name it with --out, e.g. --out report.xlsx")
    instant = _as_of(as_of)
    engine = _engine(ruleset_path, params_file, units_file)
    _check_unit(engine, unit)
    rs = engine.ruleset
    lang = lang or rs.header.default_lang
    with _guard():
        spec = load_audit_spec(rs)
    if is_workbook(records):
        try:
            items = read_xlsx_records(records, records, rs, spec)
        except WorkbookError as exc:
            _fail(str(exc))
    else:
        try:
            with open(records, encoding="utf-8", newline="") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as exc:
            _fail(f"{records}: cannot read: {getattr(exc, 'strerror', None) or exc}")
        items = read_records(text, records, rs, spec)
    words = _words(engine, lang)
    with _progress(words["p_records"], quiet) as progress:
        session = engine.session()
        for item in progress.count(items, words["p_read"]):
            session.add(item)
        progress.update(words["p_evaluating"])
        findings = narrow(session.findings(instant, progress.counter(words["p_partitions"])), unit=unit)
    if fmt == "table" and out_file is None:
        audit_table(findings, rs, Console(), lang, spec)
    elif fmt == "xlsx":
        import tempfile

        from oblige.engine.render.xlsx_report import audit_xlsx

        assert out_file is not None
        data = audit_xlsx(findings, rs, lang, spec)
        target = os.path.abspath(out_file)  # whole or not at all: a temporary file beside it, renamed over it
        try:
            fd, temporary = tempfile.mkstemp(prefix=".oblige-", suffix=".tmp", dir=os.path.dirname(target))
        except OSError as exc:
            _fail(f"--out {out_file}: cannot write there: {exc.strerror}")
        try:
            with open(fd, "wb") as out:
                out.write(data)
            os.replace(temporary, target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            _fail(f"--out {out_file}: cannot write there: {exc.strerror or exc}")
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
    _done(findings.summary, fail_on_violation, findings.rejected)


@main.command("serve")
@db_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--tokens", "tokens_file", type=click.Path(dir_okay=False), default=None,
              help="YAML or JSON tokens file; without it the server binds to loopback only.")
@click.option("--max-body", default=10 * 1024 * 1024, show_default=True, type=int, help="Largest request body, bytes.")
@click.option("--max-events", default=10_000, show_default=True, type=int, help="Most events in one request.")
@click.option("--create", is_flag=True, help="Create the event store if there is none (to be filled by POST /v1/events).")
@params_option
@units_option
@ruleset_option
def serve_command(db_url: str, host: str, port: int, tokens_file: str | None, max_body: int, max_events: int,
                  create: bool, params_file: str | None, units_file: str | None, ruleset_path: str | None) -> None:
    """Serve the JSON HTTP API (events, evaluate, findings, agenda, explain, rules) with uvicorn."""
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
    # fail now, not on the first request, if the database cannot be used; a new store only with --create
    # (a mistyped URL must not serve an empty store that reports every duty overdue)
    from oblige.engine.store.live import keep
    from oblige.engine.store.sql import NoStore, Store

    with _guard():
        try:
            store = Store(db_url, create=False)
        except NoStore as exc:
            if not create:
                _fail(f"{exc}, or start the service with --create")
            store = Store(db_url, create=True)
            click.echo(f"oblige: created an empty event store at {store.shown_url} (POST /v1/events to fill it)",
                       err=True)
        try:
            keeper, refreshed = keep(engine, store)  # the kept findings brought up to date before the first reader
            if refreshed is None:
                click.echo(f"oblige: {keeper.mismatch()}; until then each request evaluates the events (slow)",
                           err=True)
        finally:
            store.close()
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
@_writes_document
def schema_command(which: str) -> None:
    """Print the JSON Schema of the event vocabulary or of the findings document."""
    from pydantic import TypeAdapter

    from oblige.engine.core.findings import Findings
    from oblige.facts.events import EVENT_ADAPTER

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
@click.option("--format", "fmt", type=click.Choice(["table", "text", "json"]), default="table", show_default=True,
              help="table (or text): for people; json: for programs.")
@lang_option
@_writes_document
def explain_command(finding_id: str, files: tuple[str, ...], db_url: str | None, as_of: str | None,
                    params_file: str | None, units_file: str | None, ruleset_path: str | None, fmt: str,
                    lang: str | None) -> None:
    """Why FINDING_ID exists: rule, article and clause, events, deadline arithmetic, escalation chain.

    The events come from FILES (as for `eval`) or, with --db, from the event store."""
    from oblige.engine.render.explain import UnknownFinding, explain, render_text

    if not files and not db_url:
        _fail("explain needs the event FILES the finding came from, or --db URL")
    instant = _as_of(as_of)
    engine = _engine(ruleset_path, params_file, units_file)
    session = engine.session()
    found = None
    with _guard():
        if files:
            from oblige.facts.files import read_files

            session.add_all(read_files(files, engine.ruleset.units))
        else:
            from oblige.engine.store.live import explain_inputs
            from oblige.engine.store.sql import stored_items

            assert db_url is not None
            store = _store(db_url)
            try:
                found = explain_inputs(engine, store, finding_id, instant)  # its partition only, from the kept rows
                if found is None:
                    session.add_all(stored_items(store, engine.ruleset.units))
            finally:
                store.close()
    findings, facts = found if not files and found is not None else (session.findings(instant), session.facts())
    lang = lang or engine.ruleset.header.default_lang
    try:
        doc = explain(finding_id, findings, engine.ruleset, facts, lang)
    except UnknownFinding as exc:
        _fail(str(exc))
    if fmt == "json":
        click.echo(json.dumps(doc, ensure_ascii=False, indent=1))
    else:
        click.echo(_wrapped(render_text(doc, engine.ruleset, lang)))


def _wrapped(text: str) -> str:
    """Text for a person: on a terminal (or with $COLUMNS) its long lines broken at the width, the
    indentation kept (render/table.hanging); whole in a pipe, for programs."""
    from oblige.engine.render.table import hanging

    columns = shutil.get_terminal_size((0, 0)).columns if os.environ.get("COLUMNS") or sys.stdout.isatty() else 0
    return hanging(text, columns)


@main.group("rules")
def rules_group() -> None:
    """Inspect, check and test rulesets."""


@rules_group.command("list")
@click.option("--article", type=int, default=None, help="Only the rules of this article.")
@ruleset_option
@lang_option
def rules_list(article: int | None, ruleset_path: str | None, lang: str | None) -> None:
    """One line per rule: id, article, kind, action and title."""
    from oblige.engine.render.rules import rule_list

    rs = _engine(ruleset_path, None, None).ruleset
    for line in rule_list(rs, article, lang or rs.header.default_lang):
        click.echo(line)


@rules_group.command("show")
@click.argument("rule_id")
@ruleset_option
@lang_option
def rules_show(rule_id: str, ruleset_path: str | None, lang: str | None) -> None:
    """A rule as a reader of the article sees it, with its quoted clause and its reading in --lang;
    RULE_ID may be an article (20, art20, 第20条): each of its rules, or why it has none."""
    from oblige.engine.render.rules import article_of, article_text, rule_text

    rs = _engine(ruleset_path, None, None).ruleset
    lang = lang or rs.header.default_lang
    located = rs.rule(rule_id)
    if located is not None:
        click.echo(_wrapped(rule_text(located, rs, lang)), nl=False)
        return
    article = article_of(rule_id)
    text = article_text(rs, article, lang) if article is not None else None
    if text is None:
        near = difflib.get_close_matches(rule_id, [w.rule.id for w in rs.rules], n=5, cutoff=0.4)
        _fail(f"no rule {rule_id!r}" + (f"; did you mean: {', '.join(near)}" if near else "")
              + (f" (the articles are 1-{rs.header.articles})" if article is not None else ""))
    click.echo(_wrapped(text), nl=False)


@rules_group.command("coverage")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@ruleset_option
@lang_option
def rules_coverage(fmt: str, ruleset_path: str | None, lang: str | None) -> None:
    """All articles: the rules that encode each, or why it holds no checkable duty."""
    from oblige.engine.render.coverage import coverage_text
    from oblige.engine.rules.catalogue import coverage

    rs = _engine(ruleset_path, None, None).ruleset
    if fmt == "json":  # machine format: codes and the English reasons
        click.echo(json.dumps(coverage(rs), ensure_ascii=False, indent=1))
        return
    click.echo(_wrapped(coverage_text(rs, lang or rs.header.default_lang)), nl=False)


@rules_group.command("validate")
@click.argument("path", required=False)
@ruleset_option
def rules_validate(path: str | None, ruleset_path: str | None) -> None:
    """Check a ruleset directory (PATH or --ruleset); every problem is listed as file:line: code: rule: field: message."""
    path = path or ruleset_path
    from oblige.engine.rules.errors import RulesetError
    from oblige.engine.rules.ruleset import load_ruleset

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
@ruleset_option
@click.option("-k", "pattern", default=None, help="Only the cases whose note, file or line contains PATTERN.")
@click.option("-v", "--verbose", is_flag=True, help="A line for every case, passed or failed.")
def rules_test(path: str | None, ruleset_path: str | None, pattern: str | None, verbose: bool) -> None:
    """Run the ruleset's own test cases (tests/*.yaml in the ruleset directory, PATH or --ruleset)."""
    path = path or ruleset_path
    from oblige.engine.rules.casetest import CaseRunner, load_cases

    engine = _engine(path, None, None)
    with _guard():
        cases = load_cases(engine.ruleset.path / "tests")
    if pattern is not None:
        wanted = pattern.casefold()
        cases = [c for c in cases if wanted in f"{c.file}:{c.line} {c.note}".casefold()]
        if not cases:
            _fail(f"-k {pattern}: no case matches")
    runner = CaseRunner(engine)
    passed = failed = 0
    for case in cases:
        with _guard():
            problems = runner.run(case)
        if problems:
            failed += 1
            click.echo(f"FAIL {case.file}:{case.line}: {case.note}")
            for problem in problems:
                click.echo(f"  {problem}")
        else:
            passed += 1
            if verbose:
                click.echo(f"ok   {case.file}:{case.line}: {case.note}")
    click.echo(f"{passed} passed, {failed} failed")
    sys.exit(EXIT_OK if failed == 0 else EXIT_VIOLATIONS)


if __name__ == "__main__":
    main()
