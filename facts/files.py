"""Opening event files for the command line and services (`-` is standard input)."""
from __future__ import annotations

import io
import sys
from collections.abc import Iterator, Sequence

from oblige.facts.reader import Accepted, Rejected, read_line, read_stream
from oblige.facts.units import UnitRegistry


class InputError(Exception):
    """An input file that cannot be opened at all (usage error, exit 2)."""


def read_files(paths: Sequence[str], units: UnitRegistry) -> Iterator[Accepted | Rejected]:
    """Events from each file in the order given; a file that cannot be opened raises InputError."""
    for path in paths:
        if path == "-":
            stdin = getattr(sys.stdin, "buffer", None)
            text = (io.TextIOWrapper(stdin, encoding="utf-8", errors="surrogateescape", newline="\n")
                    if stdin is not None else sys.stdin)
            yield from read_stream(text, "<stdin>", units)
            continue
        try:
            # a byte that is not UTF-8 rejects the event it is in (facts.reader.not_utf8), not the file
            # and lines end at \n only (JSON Lines; \r\n too): a lone \r is content, as for the batch reader
            stream = open(path, encoding="utf-8", errors="surrogateescape", newline="\n")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror}") from None
        with stream:
            yield from read_stream(stream, path, units)


Segment = tuple[int, str, int, int, int]  # (file index, path, start byte, end byte, number of its first line)


def range_verdicts(segments: Sequence[Segment], units: UnitRegistry) -> Iterator[tuple[int, Accepted | Rejected]]:
    """Verdicts of the JSON Lines in byte ranges of whole lines, line by line, each keyed by its place
    in the input (file index, byte offset): what `read_files` gives for the same lines, so that
    workers can read parts of a file side by side."""
    for index, path, start, end, first_line in segments:
        with open(path, "rb") as f:
            f.seek(start)
            offset, number = start, first_line
            while offset < end:  # line by line: memory stays at one line, not the whole range
                raw = f.readline()
                if not raw:
                    break
                order = (index << 40) + offset
                offset += len(raw)
                text = raw.decode("utf-8", "surrogateescape")  # a bad byte rejects its line (read_line)
                if order == index << 40:
                    text = text.removeprefix("\ufeff")
                item = read_line(text, path, number, units)
                if item is not None:
                    yield order, item
                number += 1
