"""Which path evaluates a document: in memory, or in bounded memory on worker processes.

One choice for every caller (the command line, the service, an embedding program): a small
input is evaluated in this process; a large one (or any, when workers are asked for) by the
batch runtime. Both write the same bytes through `core.document.write`.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from oblige.engine.batch.early import EarlyParse, RulesetSource
from oblige.engine.batch.workers import warm_up

if TYPE_CHECKING:  # imported where used: the command line asks `parse_early` before it loads the engine
    from oblige.engine.core.engine import Engine
    from oblige.engine.core.findings import Rejection, Summary
    from oblige.engine.store.sql import Store

# Measured on this project's 2-core machines (bench/README.md): below these sizes the in-memory
# path finishes first (worker processes cost their start-up and a spill file); above them the
# two-core batch is faster and its memory stays bounded.
LARGE_INPUT = 2 * 1024 * 1024  # bytes of JSON Lines (about 14,000 events)
LARGE_STORE = 15_000  # stored events


def default_workers() -> int:
    return min(2, os.cpu_count() or 1)


def jsonl_files(paths: Sequence[str]) -> bool:
    """Are all inputs regular, readable JSON Lines files (not stdin, not a JSON array)?"""
    for path in paths:
        if path == "-" or not os.path.isfile(path):
            return False
        try:
            with open(path, "rb") as stream:
                head = stream.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        except OSError:
            return False
        if head.startswith(b"["):
            return False
    return True


def workers_for_files(paths: Sequence[str], workers: int | None) -> int:
    """0 for the in-memory path, else how many worker processes evaluate these files."""
    if workers is not None:
        return max(0, workers)
    size = sum(os.path.getsize(p) for p in paths if p != "-" and os.path.isfile(p))
    return default_workers() if size > LARGE_INPUT else 0


def warm_up_for(paths: Sequence[str], workers: int | None) -> None:
    """Start the workers' fork server now if these files will be evaluated on workers, so that it
    imports the engine while this process loads the ruleset (about 0.2 s saved per run)."""
    if workers_for_files(paths, workers) > 1:
        warm_up()


def parse_early(paths: Sequence[str], workers: int | None, source: RulesetSource) -> EarlyParse | None:
    """Begin parsing these files on workers now, before this process loads its engine, if they
    will be evaluated on two or more workers (else None); pass the result to `write_document`.

    The workers load the ruleset of `source` themselves. Measured at 100,000 events: the parsing
    then starts when the fork server is ready (about 0.3 s into the command) instead of after
    this process's own imports and ruleset (about 0.55 s)."""
    n = workers_for_files(paths, workers)
    if n < 2 or not jsonl_files(paths):
        return None
    warm_up()
    return EarlyParse(list(paths), n, source)


def workers_for_store(store: Store, workers: int | None) -> int:
    if workers is not None:
        return max(0, workers)
    return default_workers() if store.count() > LARGE_STORE else 0


@dataclass(frozen=True)
class Written:
    """What a written document holds in sum; its rejections too where it was made in memory
    (a streamed document keeps them only in its `rejected` list)."""

    summary: Summary
    rejected: list[Rejection] | None = None


def write_document(engine: Engine, out: IO[str], as_of: int, *, paths: Sequence[str] | None = None,
                   store: Store | None = None, workers: int | None = None, early: EarlyParse | None = None,
                   on_partitions: Callable[[int], None] | None = None) -> Written:
    """Evaluate the events of `paths` (JSON Lines or arrays; `-` is standard input) or of `store`
    as of `as_of` and write the findings document to `out`; `early` is `parse_early` of the same
    paths and workers. `on_partitions` is told the number of partitions evaluated so far, now
    and then (for a progress display; possibly from another thread).

    Raises `InputError` for a file that cannot be opened, `BrokenProcessPool` when a worker died."""
    from oblige.engine.batch.evaluator import BatchEvaluator
    from oblige.facts.files import read_files

    session = engine.session()
    if store is not None:
        n = workers_for_store(store, workers)
        if n:
            return Written(BatchEvaluator(engine, n, on_partitions=on_partitions).run_store(store.url, store.max_seq(), as_of, out))
        from oblige.engine.store.sql import stored_items

        session.add_all(stored_items(store, engine.ruleset.units))
    else:
        assert paths is not None
        n = workers_for_files(paths, workers)
        if n and jsonl_files(paths):  # parse on every worker too
            return Written(BatchEvaluator(engine, n, on_partitions=on_partitions).run_files(list(paths), as_of, out, early=early))
        if n:
            return Written(BatchEvaluator(engine, n, on_partitions=on_partitions).run(read_files(paths, engine.ruleset.units), as_of, out))
        session.add_all(read_files(paths, engine.ruleset.units))
    summary, rejected = session.write_document(out, as_of, on_partitions)
    return Written(summary, rejected)
