"""Sorted runs on disk: the external sort that puts a shard's findings in document order.

A shard's findings come out in partition order, and the document lists them by (time, id).
They are buffered up to a byte budget, sorted, and written as a run of marshal blocks; the
document writer merges every run of every shard (`merge_runs`). Memory stays at the budget;
a run is written once and read once, sequentially (an SQLite table with an index cost a
quarter of phase 2, measured at 1M events).
"""
from __future__ import annotations

import itertools
import marshal
import os
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from operator import itemgetter
from typing import Any, TypeVar

T = TypeVar("T")
Item = tuple[int, str, str]  # (instant, id, JSON text): (instant, id) is unique, so the text is never compared

BLOCK = 500  # items per marshal block (the merge holds one block per run in memory)
OVERHEAD = 220  # bytes a buffered item costs besides its text (tuple, int, id string, list slot)


class RunWriter:
    """Items in any order in; sorted runs (files) out, each at most `budget` bytes in memory."""

    def __init__(self, directory: str, name: str, budget: int):
        self.directory, self.name, self.budget = directory, name, budget
        self.paths: list[str] = []
        self._items: list[Item] = []
        self._size = 0

    def extend(self, items: list[Item]) -> None:
        self._items += items
        self._size += sum(map(len, map(itemgetter(2), items))) + OVERHEAD * len(items)
        if self._size >= self.budget:
            self._spill()

    def close(self) -> list[str]:
        if self._items:
            self._spill()
        return self.paths

    def _spill(self) -> None:
        self._items.sort()
        path = os.path.join(self.directory, f"{self.name}-{len(self.paths)}.run")
        with open(path, "wb") as f:
            for start in range(0, len(self._items), BLOCK):
                block = marshal.dumps(self._items[start:start + BLOCK])
                f.write(len(block).to_bytes(8, "little") + block)
        self.paths.append(path)
        self._items, self._size = [], 0


def read_blocks(path: str) -> Iterator[list[Item]]:
    """The blocks of one run, in order."""
    with open(path, "rb") as f:  # length-prefixed blocks: marshal.load on a file reads in tiny pieces
        while header := f.read(8):
            yield marshal.loads(f.read(int.from_bytes(header, "little")))


def read_run(path: str) -> Iterator[Item]:
    """The items of one run, in order, a block at a time."""
    for block in read_blocks(path):
        yield from block


def chunks(items: Iterable[T], size: int = BLOCK) -> Iterator[list[T]]:
    """Consecutive lists of at most `size` items."""
    it = iter(items)
    return iter(lambda: list(itertools.islice(it, size)), [])


def merge_blocks(sources: Iterable[Iterator[list[Any]]]) -> Iterator[Any]:
    """Merge sorted streams given as blocks (non-empty lists, each stream sorted throughout) of
    items that never compare equal: every item, in order.

    `heapq.merge` costs a Python-level step per item; this sorts a batch at a time in C
    instead. Each round takes, from every stream, the items up to the smallest of the streams'
    block ends (nothing later in any stream can come before them), and sorts that batch — runs
    already in order, which the sort merges in linear time. Memory: a block per stream."""
    heads: list[tuple[list[Any], Iterator[list[Any]]]] = []
    for source in sources:
        block = next(source, None)
        if block:
            heads.append((block, source))
    while len(heads) > 1:
        bound = min(block[-1] for block, _ in heads)
        batch: list[Any] = []
        kept: list[tuple[list[Any], Iterator[list[Any]]]] = []
        for block, source in heads:
            if block[-1] <= bound:  # the whole block goes; the stream's next block is all after `bound`
                batch += block
                block = next(source, None)
            else:
                cut = bisect_right(block, bound)
                batch += block[:cut]
                block = block[cut:]
            if block:
                kept.append((block, source))
        heads = kept
        batch.sort()
        yield from batch
    for block, source in heads:
        yield from block
        for block in source:
            yield from block


def merge_runs(paths: Iterable[str], *more: Iterable[Item]) -> Iterator[Item]:
    """Every item of the runs (and of `more`, each already sorted), in (instant, id) order."""
    return merge_blocks([*(read_blocks(p) for p in paths), *(chunks(m) for m in more)])
