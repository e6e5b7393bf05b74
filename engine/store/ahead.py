"""Reading ahead of an ingest: files parsed and validated in other processes while this one stores.

Storing reads, validates and writes on one core, and almost half of that is reading (at 200,000
events: 2.9 s reading, 3.6 s writing). Here the JSON Lines are cut into pieces of whole lines,
dealt in turn to two reading processes; each sends the verdicts of a piece, every accepted event
already in the form the store writes (`store.incoming`), over a pipe of its own, at most a few
pieces ahead (memory stays bounded), and this process takes the pieces back in order. So what is stored, repeated or
rejected is what the same files read here give, line for line.

Standard input, JSON arrays and small files are read here: a process start does not pay for them.
"""
from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: `warm_up` comes first, before this process's own imports
    from oblige.engine.store.incoming import Incoming
    from oblige.facts.files import Segment
    from oblige.facts.reader import Rejected
    from oblige.facts.units import UnitRegistry

AHEAD_BYTES = 4 << 20  # from this much input (~27,000 events) the files are read by other processes
READERS = 2  # reading processes (with the storing one, they keep two cores busy)
PIECE = 1 << 20  # bytes of whole lines read as one piece, sent in one message
DEPTH = 4  # pieces each reader reads ahead at most


def _read_into(pieces: list[list[Segment]], units: UnitRegistry, out: Connection) -> None:
    """A reading process: the verdicts of each of its pieces, one message per piece, in order, sent
    on `out`, the write end of a pipe whose read end only the caller holds. Up to DEPTH pieces wait
    in this process to be sent; when the caller is gone (killed, say) a send fails and this process
    ends at once, instead of waiting forever to be read."""
    from oblige.engine.store.incoming import prepared
    from oblige.facts.files import range_verdicts

    ready: queue.Queue[tuple[str, object] | None] = queue.Queue(maxsize=DEPTH)

    def send() -> None:
        try:
            while (message := ready.get()) is not None:
                out.send(message)
        except OSError:  # the caller is gone: nobody will read the rest
            os._exit(0)

    sender = threading.Thread(target=send, name="oblige-read-ahead-send", daemon=True)
    sender.start()
    for piece in pieces:
        try:
            ready.put(("items", list(prepared(item for _, item in range_verdicts(piece, units)))))
        except OSError as exc:  # the file went away after it was sized
            ready.put(("input", f"{piece[0][1]}: cannot read: {exc.strerror}"))
            break
    ready.put(None)
    sender.join()


def warm_up(paths: Sequence[str], threshold: int = AHEAD_BYTES) -> None:
    """Start the fork server now if these files will be read ahead, so that it imports what the
    readers and the derivation's workers run while this process imports its own. Otherwise the
    readers start after this process's imports and then the server's, and each derivation worker
    imports SQLAlchemy again (together 2 s of a 50,000-event ingest on a slow 2-core machine)."""
    from oblige.engine.batch.workers import STORE
    from oblige.engine.batch.workers import warm_up as start

    if _ahead_size(paths, threshold) is not None:
        start(STORE)


def read_ahead(paths: Sequence[str], units: UnitRegistry, threshold: int = AHEAD_BYTES,
               readers: int = READERS) -> Iterator[Incoming | Rejected]:
    """The verdicts of `paths`, in the order `read_files` gives them, read by `readers` other
    processes when they are JSON Lines files of `threshold` bytes or more. Raises InputError where
    a file cannot be read, BrokenProcessPool when a reading process dies."""
    from oblige.engine.store.incoming import prepared
    from oblige.facts.files import InputError, read_files

    size = _ahead_size(paths, threshold)
    if size is None:
        yield from prepared(read_files(paths, units))
        return
    from oblige.engine.batch.early import split_ranges
    from oblige.engine.batch.workers import STORE, process_context

    pieces = split_ranges(list(paths), max(1, -(-size // PIECE)))
    context: Any = process_context(STORE)
    pipes = [context.Pipe(duplex=False) for _ in range(readers)]
    processes = [context.Process(target=_read_into, args=(pieces[k::readers], units, pipes[k][1]), daemon=True,
                                 name=f"oblige-read-ahead-{k}") for k in range(readers)]
    try:
        for process, (_, sending) in zip(processes, pipes, strict=True):
            process.start()
            sending.close()  # the reader's alone: its end closes when it ends
        for k in range(len(pieces)):  # piece k was read by reader k % readers, its pieces in order
            try:
                kind, payload = pipes[k % readers][0].recv()
            except EOFError:
                code = processes[k % readers].exitcode
                raise BrokenProcessPool(f"a process reading the input ended (exit code {code})") from None
            if kind == "input":
                raise InputError(payload)
            yield from payload
    finally:
        for process, (receiving, _) in zip(processes, pipes, strict=True):
            receiving.close()  # a reader still sending gets an error and ends
            if process.is_alive():
                process.terminate()
            if process.pid is not None:
                process.join()


def _ahead_size(paths: Sequence[str], threshold: int) -> int | None:
    """The bytes of `paths` if they are read ahead (JSON Lines files of `threshold` bytes or more), else None."""
    from oblige.engine.batch.run import jsonl_files

    size = 0 if "-" in paths else _size(paths)
    return size if size >= threshold and jsonl_files(paths) else None


def _size(paths: Sequence[str]) -> int:
    total = 0
    for path in paths:
        try:
            total += os.path.getsize(path)
        except OSError:  # read here: the reader says why it cannot be opened, in its turn
            return 0
    return total
