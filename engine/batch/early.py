"""Parsing begun before the engine is loaded: the first phase of a batch run over JSON Lines files,
started by the command line as soon as it knows the files will go to workers.

The command line spends its first few tenths of a second importing the engine and loading the
ruleset; the workers' fork server imports the engine meanwhile. Parsing needs only what a worker
can load for itself (the unit registry and the effective instant), so the workers start on it
as soon as the fork server is ready instead of waiting for this process. Once this process has
its engine, it checks that the workers read with the very registry and instant it loaded (the
files could have changed in between) and otherwise parses again.

This module imports little: it runs before the engine is imported, and the job is submitted
from a thread, because starting a worker waits for the fork server to be ready.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from oblige.engine.batch.workers import Workers

if TYPE_CHECKING:
    from oblige.engine.rules.ruleset import Ruleset
    from oblige.facts.files import Segment
    from oblige.facts.units import UnitRegistry

RulesetSource = tuple[str | None, str | None, str | None]  # (ruleset directory, --params, --units) as Engine.load takes them


def split_ranges(paths: list[str], parts: int) -> list[list[Segment]]:
    """Byte ranges of whole lines, in reading order, one list per worker."""
    sizes = [os.path.getsize(p) for p in paths]
    total = sum(sizes)
    target = max(1, -(-total // parts))
    ranges: list[list[Segment]] = [[] for _ in range(parts)]
    k, filled = 0, 0
    for index, (path, size) in enumerate(zip(paths, sizes, strict=True)):
        start, line = 0, 1
        with open(path, "rb") as f:
            while start < size:
                want = min(size, start + max(1, target - filled))
                f.seek(want)
                f.readline()  # extend to the end of the line
                end = min(size, f.tell()) if want < size else size
                ranges[k].append((index, path, start, end, line))
                f.seek(start)
                line += f.read(end - start).count(b"\n")
                filled += end - start
                start = end
                if filled >= target and k < parts - 1:
                    k, filled = k + 1, 0
    return [r for r in ranges if r]


def _parse_loading(source: RulesetSource, segments: list[Segment], spill: str,
                   shards: int) -> tuple[str, int, UnitRegistry] | None:
    """Phase 1 for one byte range, in a worker that loads the ruleset itself: the spill file and
    what it was read with; None when the ruleset cannot be loaded (the caller reports that)."""
    from oblige.engine.batch.evaluator import _parse_range
    from oblige.engine.rules.errors import RulesetError
    from oblige.engine.rules.ruleset import load_ruleset

    try:
        ruleset = load_ruleset(*source)  # validated too: a ruleset the caller refuses ends this job as quickly
    except RulesetError:
        return None
    return _parse_range(ruleset, segments, spill, shards), ruleset.effective, ruleset.units


class EarlyParse:
    """The parsing of `paths` on `workers` processes, begun now; the same workers (and temporary
    folder) serve the later phases of the run. Close it (a `with` block) when the run is done."""

    def __init__(self, paths: list[str], workers: int, source: RulesetSource, tmpdir: str | None = None):
        self.paths = list(paths)
        self._stack = contextlib.ExitStack()
        self.work = self._stack.enter_context(tempfile.TemporaryDirectory(prefix="oblige-", dir=tmpdir))
        self.workers = self._stack.enter_context(Workers(workers))
        self._results: list[Callable[[], Any]] = []
        self._failure: BaseException | None = None
        self._starter = threading.Thread(target=self._start, args=(source, workers), name="oblige-early-parse",
                                         daemon=True)
        self._starter.start()

    def _start(self, source: RulesetSource, workers: int) -> None:
        """Split the files (reading them once to number the lines: 0.1 s per million events) and
        submit the jobs, while the fork server starts; in a thread of its own."""
        try:
            self._results = [self.workers.submit(_parse_loading, source, r, os.path.join(self.work, f"events-{k}.db"),
                                                 workers)
                             for k, r in enumerate(split_ranges(self.paths, workers))]
        except BaseException as exc:  # raised again in the caller's thread, by `spills`
            self._failure = exc

    def spills(self, ruleset: Ruleset) -> list[str] | None:
        """The spill files once parsed, or None if a worker read with another unit registry or
        effective instant than `ruleset`'s (then the caller parses again).

        Raises `BrokenProcessPool` when a worker died."""
        self._starter.join()
        if self._failure is not None:
            raise self._failure
        spills = []
        for result in self._results:
            done = result()
            if done is None or done[1] != ruleset.effective or done[2] != ruleset.units:
                return None
            spills.append(done[0])
        return spills

    def close(self) -> None:
        """Wait for the workers (a run that ends early waits for its parsing) and remove the spill files."""
        self.__exit__(None, None, None)

    def __enter__(self) -> EarlyParse:
        return self

    def __exit__(self, *exc: Any) -> None:
        """The failure, if any, goes on to the workers: leaving on one, they are stopped rather
        than waited for (a worker killed while waiting for a job leaves the others blocked)."""
        self._starter.join()
        self._stack.__exit__(*exc)
