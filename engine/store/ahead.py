"""Reading ahead of an ingest: files parsed and validated in other processes while this one stores.

Storing reads, validates and writes on one core, and almost half of that is reading (at 200,000
events: 2.9 s reading, 3.6 s writing). Here the JSON Lines are cut into pieces of whole lines,
dealt in turn to two reading processes; each sends the verdicts of a piece, every accepted event
already in the form the store writes (`store.incoming`), through a bounded queue (memory stays at a
few pieces), and this process takes the pieces back in order. So what is stored, repeated or
rejected is what the same files read here give, line for line.

Standard input, JSON arrays and small files are read here: a process start does not pay for them.
"""
from __future__ import annotations

import os
import queue
from collections.abc import Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from oblige.engine.store.incoming import Incoming, prepared
from oblige.facts.files import InputError, Segment, range_verdicts, read_files
from oblige.facts.reader import Rejected
from oblige.facts.units import UnitRegistry

AHEAD_BYTES = 4 << 20  # from this much input (~27,000 events) the files are read by other processes
READERS = 2  # reading processes (with the storing one, they keep two cores busy)
PIECE = 1 << 20  # bytes of whole lines read as one piece, sent in one message
DEPTH = 4  # pieces each reader reads ahead at most


def _read_into(pieces: list[list[Segment]], units: UnitRegistry, out: Any, caller: Any) -> None:
    """A reading process: the verdicts of each of its pieces, one message per piece, in order.

    `caller` is the read end of a pipe the caller never writes to: it reads as ended when the caller
    is gone (killed, say), and then this process ends instead of waiting forever for room in `out`."""
    for piece in pieces:
        message: tuple[str, object]
        try:
            message = ("items", list(prepared(item for _, item in range_verdicts(piece, units))))
        except OSError as exc:  # the file went away after it was sized
            message = ("input", f"{piece[0][1]}: cannot read: {exc.strerror}")
        while True:
            try:
                out.put(message, timeout=0.5)
                break
            except queue.Full:
                if caller.poll():
                    out.cancel_join_thread()  # what is queued is for nobody: exit without flushing it
                    return
        if message[0] == "input":
            return


def read_ahead(paths: Sequence[str], units: UnitRegistry, threshold: int = AHEAD_BYTES,
               readers: int = READERS) -> Iterator[Incoming | Rejected]:
    """The verdicts of `paths`, in the order `read_files` gives them, read by `readers` other
    processes when they are JSON Lines files of `threshold` bytes or more. Raises InputError where
    a file cannot be read, BrokenProcessPool when a reading process dies."""
    from oblige.engine.batch.run import jsonl_files

    if "-" in paths or _size(paths) < threshold or not jsonl_files(paths):
        yield from prepared(read_files(paths, units))
        return
    from oblige.engine.batch.early import split_ranges
    from oblige.engine.batch.workers import process_context

    pieces = split_ranges(list(paths), max(1, -(-_size(paths) // PIECE)))
    context: Any = process_context()
    queues = [context.Queue(maxsize=DEPTH) for _ in range(readers)]
    gone, here = context.Pipe(duplex=False)  # `here` stays open (never written) while this process lives
    processes = [context.Process(target=_read_into, args=(pieces[k::readers], units, queues[k], gone), daemon=True,
                                 name=f"oblige-read-ahead-{k}") for k in range(readers)]
    for process in processes:
        process.start()
    gone.close()
    try:
        for k in range(len(pieces)):  # piece k was read by reader k % readers, its pieces in order
            kind, payload = _next(queues[k % readers], processes[k % readers])
            if kind == "input":
                raise InputError(payload)
            yield from payload
    finally:
        for process, messages in zip(processes, queues, strict=True):
            if process.is_alive():  # the caller stopped early (a database failure, say): no more is read
                process.terminate()
            process.join()
            messages.close()
            messages.cancel_join_thread()
        here.close()


def _next(messages: Any, reader: Any) -> tuple[str, Any]:
    """A reading process's next message; BrokenProcessPool if it died without sending it."""
    while True:
        try:
            message: tuple[str, Any] = messages.get(timeout=0.5)
            return message
        except queue.Empty:
            if reader.is_alive():
                continue
        try:  # it ended: what it sent before is in the pipe already
            message = messages.get(timeout=0.5)
            return message
        except queue.Empty:
            raise BrokenProcessPool(f"a process reading the input ended (exit code {reader.exitcode})") from None


def _size(paths: Sequence[str]) -> int:
    total = 0
    for path in paths:
        try:
            total += os.path.getsize(path)
        except OSError:  # read here: the reader says why it cannot be opened, in its turn
            return 0
    return total
