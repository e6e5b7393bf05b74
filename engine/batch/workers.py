"""The worker processes of one batch run, used by every phase.

Workers are forked from a fork server (see `_context`): never from the caller, which may be a
threaded service. One executor per run replaces each finished worker
while this process is busy between phases (settling repeats), so the next phase finds its
workers ready, and the last phase can hand a side job (the events hash) to an idle worker.

A `concurrent.futures` executor rather than `multiprocessing.Pool`: when a worker dies (a
crash in the matching core, the out-of-memory killer) the pool would wait for it forever,
while the executor raises `BrokenProcessPool`, which the command line reports.
"""
from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")


def _context() -> multiprocessing.context.BaseContext:
    """Workers are forked from a fork server that has imported the batch runtime once.

    Not forked from this process (it may be a threaded service, and a fork copies held locks);
    not spawned each (an interpreter start and the imports, ~0.35 s, per worker and per phase:
    a fifth of a 200,000-event run). The server is started once per process and reused by
    every later run."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["oblige.engine.batch.evaluator"])
    return context


def warm_up() -> None:
    """Start the fork server (it imports the batch runtime) without waiting for it."""
    from multiprocessing import forkserver

    _context()
    forkserver.ensure_running()


class Workers:
    """`processes` spawned workers, started on first use; with one process, everything runs here."""

    def __init__(self, processes: int):
        self.processes = max(1, processes)
        self._executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def _get_executor(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # a worker exits after each job and a fresh one is spawned at once: the memory a
            # phase leaves in a worker goes back to the system before the next phase
            self._executor = ProcessPoolExecutor(self.processes, mp_context=_context(), max_tasks_per_child=1)
        return self._executor

    def map(self, function: Callable[..., T], jobs: list[tuple[Any, ...]], inline: bool = False) -> list[T]:
        """Run jobs, one per worker, and return their results in order (here when one job or `inline`)."""
        if inline or self.processes == 1 or len(jobs) == 1:
            return [function(*job) for job in jobs]
        futures = [self._submit(function, job) for job in jobs]
        return [future.result() for future in futures]

    def submit(self, function: Callable[..., T], *args: Any) -> Callable[[], T]:
        """Start one job in the background; the returned function waits for its result."""
        if self.processes == 1:
            value = function(*args)
            return lambda: value
        return self._submit(function, args).result

    def _submit(self, function: Callable[..., T], args: tuple[Any, ...]) -> Future[T]:
        try:
            return self._get_executor().submit(function, *args)
        except OSError as exc:
            # a worker died while another was being spawned: the executor then fails in the spawn
            # ("handle is closed", measured about 1 in 20 kills at start-up) instead of reporting it
            raise BrokenProcessPool(f"a worker process could not start: {exc}") from exc
