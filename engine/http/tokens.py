"""Access tokens for the HTTP service: who may read which units' findings, who may write events."""
from __future__ import annotations

import hmac
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class TokensFileError(ValueError):
    """A tokens file that cannot be used (the message names the file and the entry, never a token)."""


class Grant(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    token: str = Field(min_length=16, repr=False)
    units: Literal["*"] | tuple[str, ...]
    write: bool = False

    def sees(self, unit: str | None) -> bool:
        return self.units == "*" or (unit is not None and unit in self.units)


class Tokens(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tokens: tuple[Grant, ...]

    def find(self, presented: str | None) -> Grant | None:
        """The grant for a presented token, compared in constant time against every token."""
        if not presented:
            return None
        found = None
        for grant in self.tokens:
            if hmac.compare_digest(grant.token.encode("utf-8"), presented.encode("utf-8")):
                found = grant
        return found


def load_tokens(path: Path, known_units: frozenset[str]) -> Tokens:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))  # YAML is a superset of JSON
    except OSError as exc:
        raise TokensFileError(f"{path}: cannot read tokens file: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise TokensFileError(f"{path}: not valid YAML or JSON: {getattr(exc, 'problem', exc)}") from None
    try:
        tokens = Tokens.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise TokensFileError(f"{path}: {loc}: {first['msg']}") from None
    for n, grant in enumerate(tokens.tokens):
        if grant.units != "*":
            unknown = [u for u in grant.units if u not in known_units]
            if unknown:
                raise TokensFileError(f"{path}: tokens.{n}.units: unknown unit {unknown[0]!r}")
    if len({g.token for g in tokens.tokens}) != len(tokens.tokens):
        raise TokensFileError(f"{path}: the same token is listed twice")
    return tokens
