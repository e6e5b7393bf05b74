"""Sorted runs on disk: the external sort that puts a shard's findings in document order.

A shard's findings come out in partition order, and the document lists them by (time, id).
They are buffered up to a byte budget, sorted, and written as a run of marshal blocks; the
document writer merges every run of every shard (`merge_runs`). Memory stays at the budget;
a run is written once and read once, sequentially (an SQLite table with an index cost a
quarter of phase 2, measured at 1M events).
"""
from __future__ import annotations

import heapq
import marshal
import os
from collections.abc import Iterable, Iterator
from operator import itemgetter

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


def read_run(path: str) -> Iterator[Item]:
    """The items of one run, in order, a block at a time."""
    with open(path, "rb") as f:  # length-prefixed blocks: marshal.load on a file reads in tiny pieces
        while header := f.read(8):
            yield from marshal.loads(f.read(int.from_bytes(header, "little")))


def merge_runs(paths: Iterable[str], *more: Iterable[Item]) -> Iterator[Item]:
    """Every item of the runs (and of `more`, each already sorted), in (instant, id) order."""
    return heapq.merge(*(read_run(p) for p in paths), *more)
