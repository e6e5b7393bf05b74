"""The worker processes of one batch run, used by every phase.

Workers are forked from a fork server (see `process_context`): never from the caller, which may be a
threaded service. One executor per run replaces each finished worker
while this process is busy between phases (settling repeats), so the next phase finds its
workers ready.

A `concurrent.futures` executor rather than `multiprocessing.Pool`: when a worker dies (a
crash in the matching core, the out-of-memory killer) the pool would wait for it forever,
while the executor raises `BrokenProcessPool`, which the command line reports.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")

ENGINE = ("oblige.engine.batch.evaluator",)  # what every worker runs
STORE = (*ENGINE, "oblige.engine.store.kept")  # and what an ingest's workers run (it imports SQLAlchemy)


def process_context(preload: Sequence[str] = ENGINE) -> multiprocessing.context.BaseContext:
    """Workers are forked from a fork server that has imported the batch runtime once.

    Not forked from this process (it may be a threaded service, and a fork copies held locks);
    not spawned each (an interpreter start and the imports, ~0.35 s, per worker and per phase:
    a fifth of a 200,000-event run). The server is started once per process and reused by
    every later run: `preload` counts only for the first call (a module it left out is imported
    by each worker that needs it)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(preload))
    _start_quietly()
    return context


_server_lock = threading.Lock()
_server_of: int | None = None  # the process whose fork server was started here


def _start_quietly() -> None:
    """Start the fork server, once per process, with its standard error on /dev/null.

    When a command ends on a dead worker while its executor is asking the server for a
    replacement, the server reads a request cut short and dies with a traceback (the standard
    library's), which would follow the command's one line on its standard error. Workers say
    nothing there either (`_share_counts`): failures reach the caller as exceptions."""
    global _server_of
    from multiprocessing import forkserver

    with _server_lock:
        if _server_of == os.getpid():
            forkserver.ensure_running()  # a server that died is started again (loudly: rare)
            return
        sys.stderr.flush()
        saved, quiet = os.dup(2), os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(quiet, 2)
            forkserver.ensure_running()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(quiet)
        _server_of = os.getpid()


def warm_up(preload: Sequence[str] = ENGINE) -> None:
    """Start the fork server (it imports `preload`) without waiting for it."""
    process_context(preload)


_job = threading.local()  # .counts: the counters of the run whose job this thread is running


def _share_counts(counts: Any) -> None:
    """A worker's initializer: its jobs count into the run's shared counters. A worker says nothing
    on standard error (a job's failure reaches the caller as its exception): when a run fails, an
    idle worker whose job queue is closed under it would print a traceback of its own there."""
    _job.counts = counts
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - for the worker's life


def count(slot: int, n: int) -> None:
    """Add `n` to counter `slot` of the run whose job is running here (progress that the caller
    reads while it waits: e.g. partitions evaluated, one slot per shard); nothing outside a run."""
    counts = getattr(_job, "counts", None)
    if counts is not None:
        counts[slot] += n


class Workers:
    """`processes` spawned workers, started on first use; with one process, everything runs here.

    `counts` are counters in shared memory that jobs add to with `count` (one writer per slot,
    so no lock) and the caller reads at any time, e.g. for a progress display."""

    def __init__(self, processes: int, preload: Sequence[str] = ENGINE):
        self.processes = max(1, processes)
        self.preload = preload  # what the fork server imports, if these workers start it
        self._executor: ProcessPoolExecutor | None = None
        self._counts: Any = None
        self._lock = threading.Lock()

    @property
    def counts(self) -> Any:
        with self._lock:
            if self._counts is None:  # on first use (a few milliseconds: shared memory is mapped)
                self._counts = process_context(self.preload).RawArray("q", self.processes)
            return self._counts

    def total(self) -> int:
        """The counters added up."""
        return sum(self._counts) if self._counts is not None else 0

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        if exc[0] is None and not getattr(executor, "_broken", False):
            executor.shutdown(wait=True, cancel_futures=True)
            return
        # Leaving on a failure (a job raised, a worker died; or a caller that left without saying so
        # from a broken pool): stop every worker until the executor is
        # done. Waiting for them is not enough: the executor misses a worker started while the pool
        # was breaking, and a worker killed while it waited for a job leaves the job queue's lock
        # held, so the next one never starts its job; either way shutdown would wait forever
        # (seen about once in 40 kills).
        processes = getattr(executor, "_processes", None) or {}
        manager = getattr(executor, "_executor_manager_thread", None)
        while manager is not None and manager.is_alive():
            try:
                running = list(processes.values())
            except RuntimeError:  # the executor changed its table meanwhile: again
                continue
            if not running:
                break  # no worker at all: the shutdown below ends the executor
            for process in running:
                process.kill()  # a signal only: never reads a worker's status, which the executor does
            manager.join(timeout=0.05)
        executor.shutdown(wait=True, cancel_futures=True)

    def _get_executor(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # a worker exits after each job and a fresh one is spawned at once: the memory a
            # phase leaves in a worker goes back to the system before the next phase
            self._executor = ProcessPoolExecutor(self.processes, mp_context=process_context(self.preload),
                                                 max_tasks_per_child=1,
                                                 initializer=_share_counts, initargs=(self.counts,))
        return self._executor

    def map(self, function: Callable[..., T], jobs: list[tuple[Any, ...]], inline: bool = False) -> list[T]:
        """Run jobs, one per worker, and return their results in order (here when one job or `inline`)."""
        if inline or self.processes == 1 or len(jobs) == 1:
            return self._here(lambda: [function(*job) for job in jobs])
        futures = [self._submit(function, job) for job in jobs]
        return [future.result() for future in futures]

    def submit(self, function: Callable[..., T], *args: Any) -> Callable[[], T]:
        """Start one job in the background; the returned function waits for its result."""
        if self.processes == 1:
            value = self._here(lambda: function(*args))
            return lambda: value
        return self._submit(function, args).result

    def _here(self, run: Callable[[], T]) -> T:
        """Run jobs in this thread, counting into this run's counters."""
        saved = getattr(_job, "counts", None)
        _job.counts = self.counts
        try:
            return run()
        finally:
            _job.counts = saved

    def _submit(self, function: Callable[..., T], args: tuple[Any, ...]) -> Future[T]:
        try:
            return self._get_executor().submit(function, *args)
        except OSError as exc:
            # a worker died while another was being spawned: the executor then fails in the spawn
            # ("handle is closed", measured about 1 in 20 kills at start-up) instead of reporting it
            raise BrokenProcessPool(f"a worker process could not start: {exc}") from exc
