"""The `oblige` command line: thin click commands over `engine`. Exit codes are mapped here.

0 done; 1 --fail-on-violation and violations exist; 2 usage error or unreadable
ruleset/parameters/units; 3 done, but some events were rejected (3 wins over 1).
"""
from __future__ import annotations

import sys
from datetime import datetime
from typing import NoReturn

import click
from rich.console import Console

from engine import Engine, RulesetError
from engine.findings import Findings
from engine.inputs import InputError, read_files
from engine.report import render_table
from facts.timeutil import TimeFormatError, ZONE, parse_instant, to_us

EXIT_OK, EXIT_VIOLATIONS, EXIT_USAGE, EXIT_REJECTED = 0, 1, 2, 3


def _fail(message: str) -> NoReturn:
    click.echo(f"oblige: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _as_of(text: str | None) -> int:
    """`--as-of`: a date means 00:00:00 of that day (+08:00); the default is now."""
    if text is None:
        return to_us(datetime.now(ZONE).replace(microsecond=0))
    try:
        return parse_instant(text)
    except TimeFormatError as exc:
        _fail(f"--as-of: {exc}")


def _engine(ruleset: str | None, params: str | None, units: str | None) -> Engine:
    try:
        return Engine.load(ruleset, params, units)
    except RulesetError as exc:
        _fail(f"cannot use the ruleset:\n{exc}")


def _exit_code(findings: Findings, fail_on_violation: bool) -> int:
    if findings.summary.rejected:
        return EXIT_REJECTED
    if fail_on_violation and findings.summary.violations:
        return EXIT_VIOLATIONS
    return EXIT_OK


def _emit(findings: Findings, engine: Engine, fmt: str) -> None:
    for r in findings.rejected:
        click.echo(f"rejected: {r.file}:{r.line}: {r.id or '-'}: {r.error}", err=True)
    if fmt == "json":
        click.echo(findings.model_dump_json(indent=1))
    else:
        render_table(findings, engine.ruleset, Console(), lang="en")


ruleset_option = click.option("--ruleset", "ruleset_path", type=click.Path(), default=None,
                              help="Ruleset directory (default: the bundled xunyang_2022).")
params_option = click.option("--params", "params_file", type=click.Path(), default=None,
                             help="YAML file overriding parameters by name.")
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
def eval_command(files: tuple[str, ...], as_of: str | None, params_file: str | None, units_file: str | None,
                 ruleset_path: str | None, fmt: str, fail_on_violation: bool) -> None:
    """Evaluate events from FILES (JSON Lines or a JSON array; - for stdin)."""
    instant = _as_of(as_of)
    engine = _engine(ruleset_path, params_file, units_file)
    try:
        findings = engine.evaluate(read_files(files, engine.ruleset.units), instant)
    except InputError as exc:
        _fail(str(exc))
    _emit(findings, engine, fmt)
    sys.exit(_exit_code(findings, fail_on_violation))


if __name__ == "__main__":
    main()
