"""The cyclic garbage collector kept out of bulk work.

Bulk work (parsing, matching, deriving findings) allocates millions of short-lived acyclic
objects — tuples, facts, rows — and makes almost no cycles. The collector, which runs every 700
allocations and now and then walks every tracked object, only costs time there: a kept-findings
refresh of 200,000 events took 29 s of derivation with it and 20 s without (measured in one process).
"""
from __future__ import annotations

import contextlib
import gc
import multiprocessing
from collections.abc import Iterator


def settle_worker(collect: bool = True) -> None:
    """In a worker process, move what is alive now (ruleset, engine) out of the collector's reach.

    Full collections traverse every tracked object; the ruleset and the compiled engine are
    tens of thousands of them and live as long as the worker, so each collection re-walked them
    (measured: a quarter of phase 2 at 1M events). Not done in the caller's own process, where
    freezing would keep its cyclic garbage alive. The young generation's threshold is raised
    too: a worker allocates millions of short-lived acyclic tuples, and collecting every 700
    allocations cost ~5% of phase 2 (measured).

    Phase 2 passes `collect=False`: its workers do not collect at all. Its collections only walked
    the findings buffered for the sorted runs (3 % of a 50,000-event shard), and it makes almost
    no cyclic garbage (measured: under 1,000 objects for a 50,000-event shard, freed when the
    worker exits after its one job)."""
    if multiprocessing.parent_process() is not None:
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)
        if not collect:
            gc.disable()


@contextlib.contextmanager
def no_collections() -> Iterator[None]:
    """No cyclic garbage collection inside: for a stretch that makes no cycles but many tuples,
    which a collection would only walk (restored as found; harmless if another thread overlaps)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
