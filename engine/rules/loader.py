"""YAML to models, keeping line numbers so every error names its file and line."""
from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from oblige.engine.rules.errors import RuleError

M = TypeVar("M", bound=BaseModel)


class LineDict(dict[Any, Any]):
    """A mapping that remembers the line of itself and of each key."""

    line: int = 0
    key_lines: dict[Any, int]


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    out = LineDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in out:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)

# libyaml's parser where PyYAML was built with it: the same nodes, marks and values (the resolver
# and the constructors are the same Python classes), five times as fast; a ruleset's 40 files took
# 0.1 s of every command's start-up with the pure-Python parser. Errors are always reported by the
# pure-Python parser, so their wording stays one.
_FastLineLoader: type[Any] = _LineLoader
if getattr(yaml, "__with_libyaml__", False):
    class _CLineLoader(yaml.CSafeLoader):
        pass

    _CLineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    _FastLineLoader = _CLineLoader


def _load(text: str) -> Any:
    if _FastLineLoader is not _LineLoader:
        try:
            return yaml.load(text, Loader=_FastLineLoader)
        except yaml.YAMLError:
            pass  # told again, in the pure-Python parser's words
    return yaml.load(text, Loader=_LineLoader)


def read_yaml(path: Path) -> tuple[Any, list[RuleError]]:
    """Parse a YAML file; a parse error becomes a located `rule_parse_error`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return None, [RuleError(str(path), 0, "rule_parse_error", f"cannot read: {exc.strerror}")]
    try:
        return _load(text), []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 0
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [RuleError(str(path), line, "rule_parse_error", problem)]


def line_of(raw: Any, loc: tuple[Any, ...]) -> int:
    """The line of the deepest node of `raw` that `loc` (a pydantic error path) reaches."""
    line = getattr(raw, "line", 0)
    node = raw
    for part in loc:
        if isinstance(node, dict) and part in node:
            line = node.key_lines.get(part, line) if isinstance(node, LineDict) else line
            node = node[part]
            line = getattr(node, "line", line)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            line = getattr(node, "line", line)
        # pydantic inserts union tags (e.g. 'obligation') into loc; skip what is not a key
    return line


def rule_id_at(raw: Any, loc: tuple[Any, ...]) -> str | None:
    """The `id` of the rule that an error path points into, if any."""
    if isinstance(raw, dict) and len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        rules = raw.get("rules")
        if isinstance(rules, list) and loc[1] < len(rules) and isinstance(rules[loc[1]], dict):
            rid = rules[loc[1]].get("id")
            return rid if isinstance(rid, str) else None
    return None


def validate_as(model: type[M], raw: Any, path: Path) -> tuple[M | None, list[RuleError]]:
    """Validate raw YAML data against a model; every error located by line and rule id."""
    try:
        return model.model_validate(raw), []
    except ValidationError as exc:
        errors = []
        article = raw.get("article") if isinstance(raw, dict) and isinstance(raw.get("article"), int) else None
        for err in exc.errors():
            loc = tuple(err["loc"])
            field = ".".join(str(p) for p in loc if not (isinstance(p, str) and p in ("obligation", "prohibition", "breach")))
            msg = err["msg"].removeprefix("Value error, ")
            errors.append(RuleError(str(path), line_of(raw, loc), "rule_schema_error",
                                    f"{field}: {msg}" if field else msg, rule_id_at(raw, loc), article))
        return None, errors
