"""Opening event files for the command line and services (`-` is standard input)."""
from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence

from facts.reader import Accepted, Rejected, read_stream
from facts.units import UnitRegistry


class InputError(Exception):
    """An input file that cannot be opened at all (usage error, exit 2)."""


def read_files(paths: Sequence[str], units: UnitRegistry) -> Iterator[Accepted | Rejected]:
    """Events from each file in the order given; a file that cannot be opened raises InputError."""
    for path in paths:
        if path == "-":
            yield from read_stream(sys.stdin, "<stdin>", units)
            continue
        try:
            stream = open(path, encoding="utf-8", newline="")
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror}") from None
        with stream:
            try:
                yield from read_stream(stream, path, units)
            except UnicodeDecodeError as exc:
                raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
