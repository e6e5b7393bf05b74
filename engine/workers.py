"""The worker processes of one batch run: spawned once, used by every phase.

Spawning (not forking: the caller may be a threaded service) costs each process an
interpreter start and the imports, ~0.4 s. One pool per run replaces each finished worker
while this process is busy between phases (settling repeats), so the next phase finds its
workers ready, and the last phase can hand a side job (the events hash) to an idle worker.
"""
from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from multiprocessing.pool import Pool
from typing import Any, TypeVar

T = TypeVar("T")


class Workers:
    """`processes` spawned workers, started on first use; with one process, everything runs here."""

    def __init__(self, processes: int):
        self.processes = max(1, processes)
        self._pool: Pool | None = None

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def _get_pool(self) -> Pool:
        if self._pool is None:
            # a worker exits after each job and a fresh one is spawned in the background at once:
            # the memory a phase leaves in a worker goes back to the system before the next phase
            self._pool = multiprocessing.get_context("spawn").Pool(self.processes, maxtasksperchild=1)
        return self._pool

    def map(self, function: Callable[..., T], jobs: list[tuple[Any, ...]], inline: bool = False) -> list[T]:
        """Run jobs, one per worker, and return their results in order (here when one job or `inline`)."""
        if inline or self.processes == 1 or len(jobs) == 1:
            return [function(*job) for job in jobs]
        return self._get_pool().starmap(function, jobs)

    def submit(self, function: Callable[..., T], *args: Any) -> Callable[[], T]:
        """Start one job in the background; the returned function waits for its result."""
        if self.processes == 1:
            value = function(*args)
            return lambda: value
        return self._get_pool().apply_async(function, args).get
