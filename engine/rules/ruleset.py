"""Loading a ruleset directory into one validated, immutable `Ruleset`.

A ruleset is data: `ruleset.yaml` (header and ladder), `parameters.yaml`, `units.yaml`,
`rules/*.yaml` (one file per article), `articles-without-duty.yaml` and the source text.
Every problem found is reported at once, each with its file and line.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from oblige.engine.rules.errors import RuleError, RulesetError
from oblige.engine.rules.loader import line_of, read_yaml, validate_as
from oblige.engine.rules.model import AnyRule, Located, Ruleset
from oblige.engine.rules.params import build_params, read_overrides
from oblige.engine.rules.schema import ArticleFile, NoDutyFile, ParameterSpec, RulesetHeader
from oblige.engine.rules.validate import validate_ruleset
from oblige.facts.reporters import ReporterTable
from oblige.facts.units import Unit, UnitRegistry, UnitsFileError, load_units

__all__ = ["DEFAULT_RULESET", "AnyRule", "Located", "Ruleset", "load_ruleset"]

DEFAULT_RULESET = Path(__file__).resolve().parents[2] / "rulesets" / "xunyang_2022"

def _hash_dir(path: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml", ".txt")):
        digest.update(str(file.relative_to(path)).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def _read_model(model: Any, path: Path) -> tuple[Any, Any, list[RuleError]]:
    raw, errors = read_yaml(path)
    if errors:
        return None, raw, errors
    value, errors = validate_as(model, raw, path)
    return value, raw, errors


def _load_units(path: Path, units_file: Path | None) -> tuple[UnitRegistry | None, frozenset[str], list[RuleError]]:
    """The unit registry (the ruleset's own, or `units_file`'s members with its others) and the
    codes of the ruleset's own units file (the reporters table may name them)."""
    base = path / "units.yaml"
    try:
        own = load_units(base, ())
        raw, _ = read_yaml(base)
        others = tuple(Unit.model_validate(u) for u in (raw.get("others") or []))
        own_codes = own.codes | {u.code for u in others}
        if units_file is None:
            return UnitRegistry(members=own.members, others=others), own_codes, []
        return load_units(units_file, others), own_codes, []
    except UnitsFileError as exc:  # each line "file[:line]: message"
        out = []
        for problem in str(exc).splitlines():
            where, _, message = problem.partition(": ")
            file, _, line = where.partition(":")
            out.append(RuleError(file, int(line) if line.isdigit() else 0, "units_error", message))
        return None, frozenset(), out


def load_ruleset(path: Path | str | None = None, params_file: Path | str | None = None,
                 units_file: Path | str | None = None, check: bool = True) -> Ruleset:
    """Load, validate and return a ruleset; raise `RulesetError` listing every problem."""
    root = Path(path) if path else DEFAULT_RULESET
    errors: list[RuleError] = []
    if not (root / "ruleset.yaml").is_file():
        raise RulesetError([RuleError(str(root), 0, "rule_parse_error", "not a ruleset directory (no ruleset.yaml)")])

    header, _, errs = _read_model(RulesetHeader, root / "ruleset.yaml")
    errors += errs

    specs: dict[str, ParameterSpec] = {}
    raw_params, errs = read_yaml(root / "parameters.yaml")
    errors += errs
    for name, value in (raw_params or {}).items():
        spec, errs = validate_as(ParameterSpec, value, root / "parameters.yaml")
        errors += [RuleError(e.file, e.line, "param_error", f"{name}: {e.message}") for e in errs]
        if spec:
            specs[name] = spec
    overrides: dict[str, Any] = {}
    if params_file is not None:
        overrides, errs = read_overrides(Path(params_file))
        errors += errs
    params, errs = build_params(specs, overrides, str(params_file or root / "parameters.yaml"))
    errors += errs

    units, own_codes, errs = _load_units(root, Path(units_file) if units_file else None)
    errors += errs
    if units is not None and (root / "reporters.yaml").is_file():
        table, _, errs = _read_model(ReporterTable, root / "reporters.yaml")
        errors += errs
        if table is not None:
            errors += [RuleError(str(root / "reporters.yaml"), 0, "rule_ref_error", problem)
                       for problem in table.problems(units.codes | own_codes)]
            units = units.model_copy(update={"reporters": table})

    rules: list[Located] = []
    rule_files = sorted((root / "rules").glob("*.yaml"))
    if not rule_files:
        errors.append(RuleError(str(root / "rules"), 0, "rule_parse_error", "no rule files"))
    for file in rule_files:
        article_file, raw, errs = _read_model(ArticleFile, file)
        errors += errs
        if article_file is None:
            continue
        for index, rule in enumerate(article_file.rules):
            rules.append(Located(rule, article_file.article, str(file), line_of(raw, ("rules", index)),
                                 raw["rules"][index]))

    no_duty_file, _, errs = _read_model(NoDutyFile, root / "articles-without-duty.yaml")
    errors += errs
    no_duty = {a.article: a.reason for a in no_duty_file.articles} if no_duty_file else {}
    no_duty_zh = {a.article: a.reason_zh for a in no_duty_file.articles} if no_duty_file else {}

    source_text = ""
    if header is not None:
        try:
            source_text = (root / header.source).read_text(encoding="utf-8")
        except OSError as exc:
            errors.append(RuleError(str(root / "ruleset.yaml"), 0, "rule_ref_error",
                                    f"source: cannot read {header.source}: {exc.strerror}"))
    if errors:
        raise RulesetError(errors)
    if params is None or units is None:  # build_params and _load_units give None only with errors, raised above
        raise RuntimeError("parameters or units missing although no error was reported")
    not_modelled = tuple(no_duty_file.not_modelled) if no_duty_file else ()
    ruleset = Ruleset(root, header, specs, params, units, tuple(rules), no_duty, source_text, _hash_dir(root), no_duty_zh,
                      not_modelled)
    if check:
        problems = validate_ruleset(ruleset)
        if problems:
            raise RulesetError(problems)
    return ruleset
