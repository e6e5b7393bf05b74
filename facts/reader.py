"""Read events from JSON Lines or a JSON array, one verdict per event.

A bad event is a `Rejected` with its file, line, id (when readable) and a precise reason;
the events around it are still read. Nothing here raises on bad content.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import orjson
from pydantic import ValidationError

from oblige.facts.events import EVENT_ADAPTER, ID_PATTERN, Fact, to_fact
from oblige.facts.timeutil import format_precise, shown
from oblige.facts.units import UnitRegistry
from oblige.facts.vocabulary import ALL_TYPES, UNIT_LEVEL


@dataclass(frozen=True, slots=True)
class Accepted:
    fact: Fact
    digest: bytes  # hash of the event as a JSON value: tells a repeat from a conflict
    file: str
    line: int
    raw: str


@dataclass(frozen=True, slots=True)
class Rejected:
    file: str
    line: int
    id: str | None
    error: str
    raw: str

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "id": self.id, "error": self.error}


def content_digest(obj: Any) -> bytes:
    """Canonical hash of a JSON value (key order and spacing do not matter)."""
    return hashlib.blake2b(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS), digest_size=16).digest()


def fact_digest(fact: Fact) -> bytes:
    """Hash of the validated event (defaults filled in, instant normalised): SPEC §2 calls two
    events with one id "the same" when they are equal once validated, whatever their spelling."""
    body = (fact.type, fact.at, fact.unit, fact.subject, fact.data)
    return hashlib.blake2b(orjson.dumps(body), digest_size=16).digest()


# --- what a decoded JSON value may be before it is validated as an event (SPEC §2) ----------------

MAX_DEPTH = 3  # an event object > its data object > a list of strings: nothing in the vocabulary is deeper
SAFE_INTEGER = 2 ** 53  # integers outside ±2^53 do not survive a JSON round trip in other languages
_ID = re.compile(ID_PATTERN)


class _Repeated(dict[str, Any]):
    """An object that had a key more than once (json keeps the last value; we reject it)."""

    repeated: str = ""


class _Bad:
    """A number that cannot be an event value (not finite, or too large to read), kept as a marker
    so that the decoder reads on to the end of the event and the event alone is rejected."""

    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = reason


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) == len(pairs):
        return out
    seen: set[str] = set()
    repeated = _Repeated(out)
    for key, _ in pairs:
        if key in seen:
            repeated.repeated = key
            break
        seen.add(key)
    return repeated


def _int(text: str) -> int | _Bad:
    if len(text) <= 16:
        return int(text)
    value = int(text) if len(text) <= 400 else None
    if value is None or abs(value) > SAFE_INTEGER:
        return _Bad(f"integer outside ±2^53: {shown(text, 40)}")
    return value


def _float(text: str) -> float | _Bad:
    value = float(text)
    return value if math.isfinite(value) else _Bad(f"number is not finite: {shown(text, 40)}")


def _constant(name: str) -> _Bad:
    return _Bad(f"number is not finite: {name}")


# the strict decoder: JSON arrays, HTTP bodies, and the lines the fast path is unsure of
DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_int=_int, parse_float=_float, parse_constant=_constant)


def value_problem(obj: Any) -> str | None:
    """Why a decoded JSON value cannot be an event whatever its fields (repeated key, a number
    that is not finite or outside ±2^53, nesting deeper than the vocabulary), or None."""
    problem, _ = _scan(obj)
    return problem


def _scan(obj: Any) -> tuple[str | None, int]:
    """(problem, number of keys in all objects), walking without recursion."""
    keys = 0
    stack = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            if isinstance(value, _Repeated):
                return f"repeated key {shown(value.repeated)} in one object", keys
            if depth > MAX_DEPTH:
                return "nesting deeper than an event allows", keys
            keys += len(value)
            for item in value.values():
                if isinstance(item, (dict, list, int, float, _Bad)):
                    stack.append((item, depth + 1))
        elif isinstance(value, list):
            if depth > MAX_DEPTH:
                return "nesting deeper than an event allows", keys
            for item in value:
                if isinstance(item, (dict, list, int, float, _Bad)):
                    stack.append((item, depth + 1))
        elif isinstance(value, _Bad):
            return value.reason, keys
        elif isinstance(value, float):
            if not math.isfinite(value) or abs(value) > SAFE_INTEGER:
                return f"number outside ±2^53: {shown(value)}", keys
        elif isinstance(value, int) and not -SAFE_INTEGER <= value <= SAFE_INTEGER:
            return f"integer outside ±2^53: {shown(value)}", keys
    return None, keys


def _quick_scan(obj: Any) -> tuple[str | None, int]:
    """`_scan` for the usual event (flat fields and a flat data object of short values), a few
    times as fast, counting the strings (keys and string values) rather than the keys; anything
    else goes to `_scan` (and counts -1: the line is decoded again strictly)."""
    if type(obj) is not dict:
        return _scan(obj)[0], -1
    strings = len(obj)
    for value in obj.values():
        kind = type(value)
        if kind is str:
            strings += 1
        elif kind is bool or value is None:
            continue
        elif kind is dict:
            strings += len(value)
            for item in value.values():
                inner = type(item)
                if inner is str:
                    strings += 1
                elif inner is bool or item is None or inner is int and -SAFE_INTEGER <= item <= SAFE_INTEGER:
                    continue
                else:
                    return _scan(obj)[0], -1
        elif kind is int and -SAFE_INTEGER <= value <= SAFE_INTEGER:
            continue
        else:
            return _scan(obj)[0], -1
    return None, strings


def strict_loads(text: str) -> Any:
    """Decode one JSON text with the strict decoder; raises json.JSONDecodeError (also for nesting
    too deep to decode)."""
    try:
        return DECODER.decode(text)
    except RecursionError:
        raise json.JSONDecodeError("nesting deeper than an event allows", text, 0) from None


def canonical(fact: Fact) -> str:
    """The validated event written canonically (what is stored: never the raw line). Reading it
    again gives the same fact; it holds only what validation let through."""
    out: dict[str, Any] = {"id": fact.id, "type": fact.type, "occurred_at": format_precise(fact.at), "unit": fact.unit}
    if fact.subject is not None:
        out["subject"] = fact.subject
    out["data"] = dict(fact.data)
    return orjson.dumps(out).decode("utf-8")


_NAME = re.compile(r"^[A-Za-z0-9_.]{1,64}$")


def _part(p: Any) -> str:
    """A part of an error's location as shown: a field name as it is, anything else quoted."""
    text = str(p)
    return text if _NAME.fullmatch(text) else shown(text, 40)


def _reason(exc: ValidationError, event_type: str) -> str:
    parts = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False)[:5]:
        loc = [_part(p) for p in err["loc"]]
        if loc and loc[0] == event_type:
            loc = loc[1:]
        msg = err["msg"].removeprefix("Value error, ")
        if not msg.isprintable() or len(msg) > 300:
            msg = shown(msg, 300)
        parts.append(f"{'.'.join(loc)}: {msg}" if loc else msg)
    return "; ".join(parts)


def check_event(obj: Any, units: UnitRegistry | None, file: str, line: int, raw: str) -> Accepted | Rejected:
    """Validate one decoded JSON value as an event."""
    if not isinstance(obj, dict):
        return Rejected(file, line, None, "an event is a JSON object", raw)
    event_type = obj.get("type")
    if "type" not in obj:
        return Rejected(file, line, _id_of(obj), "type: Field required", raw)
    if not isinstance(event_type, str) or event_type not in ALL_TYPES:
        return Rejected(file, line, _id_of(obj), f"type: unknown event type {shown(event_type)}", raw)
    try:
        model = EVENT_ADAPTER.validate_python(obj, context={"units": units})
    except ValidationError as exc:
        return Rejected(file, line, _id_of(obj), _reason(exc, event_type), raw)
    about = None
    if units is not None:
        fields = model.__dict__
        unit = fields["unit"]
        if not units.may_report(event_type, unit):
            return Rejected(file, line, _id_of(obj), f"unit: {unit} may not report {event_type}", raw)
        target = fields["data"].__dict__.get("target")  # pydantic's slow __getattr__ avoided
        if target is not None and (target not in units.member_codes or target == unit):
            return Rejected(file, line, _id_of(obj),
                            f"data.target: {shown(target)} is not a member unit other than the reporter", raw)
        if units.reporters is not None and event_type in UNIT_LEVEL:
            about = units.reporters.about(event_type, unit, fields["data"].__dict__)
    fact = to_fact(model, about)
    return Accepted(fact, fact_digest(fact), file, line, raw or json.dumps(obj, ensure_ascii=False))


def not_utf8(text: str) -> str | None:
    """Why text decoded with `surrogateescape` is not UTF-8 (the first bad byte), or None.

    Inputs are decoded that way so that one bad byte rejects one event, not the whole file."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        byte = ord(text[exc.start]) - 0xDC00
        return f"not UTF-8 text: byte 0x{byte:02x} at column {exc.start + 1}"
    return None


def _shown(text: str) -> str:
    """Text with its undecodable bytes written as \\xNN (a rejects file stays UTF-8, nothing is lost)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def read_line(text: str, file: str, number: int, units: UnitRegistry | None) -> Accepted | Rejected | None:
    """One line of JSON Lines (None for a blank line)."""
    if not text.strip():
        return None
    raw = text.rstrip("\r\n")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        reason = not_utf8(raw)
        if reason:
            return Rejected(file, number, None, reason, _shown(raw))
        try:  # orjson refuses what the strict decoder may explain better (a huge number, say)
            obj = strict_loads(raw)
        except json.JSONDecodeError:
            return Rejected(file, number, None, f"malformed JSON: {exc.msg} at column {exc.colno}", raw)
        problem = value_problem(obj)
        return (Rejected(file, number, _id_of(obj), problem, raw) if problem
                else check_event(obj, units, file, number, raw))
    problem, strings = _quick_scan(obj)
    if problem is None and 2 * strings != raw.count('"'):
        # more quotes than the strings read have: a repeated key (orjson keeps the last value), or
        # an escaped quote, or a shape the quick scan leaves alone — the strict decoder tells
        # which (rare, so the fast path stays fast; equal counts prove no key was repeated)
        try:
            problem = value_problem(strict_loads(raw))
        except json.JSONDecodeError as err:  # pragma: no cover - orjson read it
            problem = f"malformed JSON: {err.msg}"
    if problem is not None:
        return Rejected(file, number, _id_of(obj), problem, raw)
    return check_event(obj, units, file, number, raw)


def _id_of(obj: Any) -> str | None:
    """The event's id where it is one (a forged id cannot write another line to stderr)."""
    raw_id = obj.get("id") if isinstance(obj, dict) else None
    return raw_id if isinstance(raw_id, str) and _ID.fullmatch(raw_id) else None


def read_value(obj: Any, file: str, line: int, units: UnitRegistry | None, raw: str = "") -> Accepted | Rejected:
    """One value decoded by `DECODER` (an element of an array or of an HTTP body) as a verdict."""
    problem = value_problem(obj)
    if problem is not None:
        return Rejected(file, line, _id_of(obj), problem, raw)
    return check_event(obj, units, file, line, raw)


def read_lines(lines: Iterable[str], file: str, units: UnitRegistry | None) -> Iterator[Accepted | Rejected]:
    """JSON Lines: one event per line; blank lines skipped."""
    for number, text in enumerate(lines, start=1):
        item = read_line(text, file, number, units)
        if item is not None:
            yield item


def read_array(text: str, file: str, units: UnitRegistry | None) -> Iterator[Accepted | Rejected]:
    """A JSON array of events, element by element, each with the line it starts on."""
    decoder = DECODER
    pos = text.index("[") + 1
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text):
            yield Rejected(file, text.count("\n", 0, pos) + 1, None, "malformed JSON: array not closed", "")
            return
        if text[pos] == "]":
            after = len(text[pos + 1:]) - len(text[pos + 1:].lstrip())  # stray text, or a second array, is
            if pos + 1 + after < len(text):                                # rejected, never dropped unsaid
                yield Rejected(file, text.count("\n", 0, pos + 1 + after) + 1, None, "malformed JSON: text after "
                               "the array's closing ]; the rest of the input cannot be read",
                               _shown(text[pos + 1 + after:pos + 201 + after]))
            return
        line = text.count("\n", 0, pos) + 1
        try:
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            yield Rejected(file, line, None,
                           f"malformed JSON: {exc.msg}; the rest of the array cannot be read", text[pos:pos + 200])
            return
        except RecursionError:  # nested too deep to decode: skip this element, read on
            skipped = _skip_value(text, pos)
            if skipped is None:
                yield Rejected(file, line, None, "nesting deeper than an event allows; the rest of the array cannot be read",
                               text[pos:pos + 200])
                return
            yield Rejected(file, line, None, "nesting deeper than an event allows", text[pos:pos + 200])
            pos = skipped
            continue
        reason = not_utf8(text[pos:end])
        if reason is not None:
            yield Rejected(file, line, None, reason, _shown(text[pos:end]))
        else:
            yield read_value(obj, file, line, units, text[pos:end])
        pos = end


def _skip_value(text: str, pos: int) -> int | None:
    """The end of the nested array or object that starts at `pos` (brackets matched outside
    strings), or None if it does not end (only for values too deep for the decoder)."""
    depth, i, n = 0, pos, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def read_stream(stream: IO[str], file: str, units: UnitRegistry | None) -> Iterator[Accepted | Rejected]:
    """Tell a JSON array from JSON Lines by the first non-blank character."""
    first = ""
    buffered: list[str] = []
    for text in stream:
        if not buffered:
            text = text.removeprefix("\ufeff")  # a byte-order mark (Windows editors) is not content
        buffered.append(text)
        if text.strip():
            first = text.lstrip()[0]
            break
    if first == "[":
        yield from read_array("".join(buffered) + stream.read(), file, units)
    else:
        yield from read_lines(_chain(buffered, stream), file, units)


def _chain(head: list[str], rest: IO[str]) -> Iterator[str]:
    yield from head
    yield from rest
