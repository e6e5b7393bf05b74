"""Errors that locate themselves: code, message, file, line, rule id, article.

Rendered as `file:line: code: rule_id: message`, so a maintainer can jump to the spot.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class RuleError:
    file: str
    line: int
    code: str  # rule_parse_error | rule_schema_error | rule_ref_error | param_error | units_error
    message: str
    rule_id: str | None = None
    article: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        who = f" {self.rule_id}:" if self.rule_id else ""
        return f"{where}: {self.code}:{who} {self.message}"


class RulesetError(Exception):
    """A ruleset, parameter file or units file that cannot be used (exit code 2)."""

    def __init__(self, errors: list[RuleError]):
        self.errors = sorted(errors)
        super().__init__("\n".join(str(e) for e in self.errors))
