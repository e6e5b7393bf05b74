"""Read events from JSON Lines or a JSON array, one verdict per event.

A bad event is a `Rejected` with its file, line, id (when readable) and a precise reason;
the events around it are still read. Nothing here raises on bad content.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import orjson
from pydantic import ValidationError

from oblige.facts.events import EVENT_ADAPTER, Fact, to_fact
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


def split_repeats(batch: Iterable[Accepted]) -> tuple[dict[str, Accepted], list[Accepted]]:
    """The first occurrence of each id in a batch, and the later occurrences in reading order."""
    first: dict[str, Accepted] = {}
    later: list[Accepted] = []
    for item in batch:
        if item.fact.id in first:
            later.append(item)
        else:
            first[item.fact.id] = item
    return first, later


def _reason(exc: ValidationError, event_type: str) -> str:
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        if loc and loc[0] == event_type:
            loc = loc[1:]
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{'.'.join(loc)}: {msg}" if loc else msg)
    return "; ".join(parts)


def check_event(obj: Any, units: UnitRegistry | None, file: str, line: int, raw: str) -> Accepted | Rejected:
    """Validate one decoded JSON value as an event."""
    raw_id = obj.get("id") if isinstance(obj, dict) else None
    event_id = raw_id if isinstance(raw_id, str) else None
    if not isinstance(obj, dict):
        return Rejected(file, line, None, "an event is a JSON object", raw)
    event_type = obj.get("type")
    if "type" not in obj:
        return Rejected(file, line, event_id, "type: Field required", raw)
    if not isinstance(event_type, str) or event_type not in ALL_TYPES:
        return Rejected(file, line, event_id, f"type: unknown event type {event_type!r}", raw)
    try:
        model = EVENT_ADAPTER.validate_python(obj, context={"units": units})
    except ValidationError as exc:
        return Rejected(file, line, event_id, _reason(exc, event_type), raw)
    about = None
    if units is not None:
        fields = model.__dict__
        unit = fields["unit"]
        if not units.may_report(event_type, unit):
            return Rejected(file, line, event_id, f"unit: {unit} may not report {event_type}", raw)
        target = fields["data"].__dict__.get("target")  # pydantic's slow __getattr__ avoided
        if target is not None and (target not in units.member_codes or target == unit):
            return Rejected(file, line, event_id,
                            f"data.target: {target!r} is not a member unit other than the reporter", raw)
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
        return Rejected(file, number, None, reason or f"malformed JSON: {exc.msg} at column {exc.colno}",
                        _shown(raw) if reason else raw)
    return check_event(obj, units, file, number, raw)


def read_lines(lines: Iterable[str], file: str, units: UnitRegistry | None) -> Iterator[Accepted | Rejected]:
    """JSON Lines: one event per line; blank lines skipped."""
    for number, text in enumerate(lines, start=1):
        item = read_line(text, file, number, units)
        if item is not None:
            yield item


def read_array(text: str, file: str, units: UnitRegistry | None) -> Iterator[Accepted | Rejected]:
    """A JSON array of events, element by element, each with the line it starts on."""
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text):
            yield Rejected(file, text.count("\n", 0, pos) + 1, None, "malformed JSON: array not closed", "")
            return
        if text[pos] == "]":
            return
        line = text.count("\n", 0, pos) + 1
        try:
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            yield Rejected(file, line, None,
                           f"malformed JSON: {exc.msg}; the rest of the array cannot be read", text[pos:pos + 200])
            return
        reason = not_utf8(text[pos:end])
        if reason is not None:
            yield Rejected(file, line, None, reason, _shown(text[pos:end]))
        else:
            yield check_event(obj, units, file, line, text[pos:end])
        pos = end


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
