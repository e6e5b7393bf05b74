"""The batch run's worker processes: results in order, and a dead worker is an error, not a hang."""
from __future__ import annotations

import os
from concurrent.futures.process import BrokenProcessPool

import pytest

from oblige.engine.batch.workers import Workers
from tests.jobs import die as _die
from tests.jobs import stderr_of as _stderr_of
from tests.jobs import where as _where


def test_jobs_run_in_other_processes_and_come_back_in_order() -> None:
    with Workers(2) as workers:
        results = workers.map(_where, [(2,), (3,)])
        later = workers.submit(_where, 4)
        assert later()[0] == 16
    assert [square for square, _ in results] == [4, 9]
    assert all(pid != os.getpid() for _, pid in results)


def test_one_process_runs_here() -> None:
    with Workers(1) as workers:
        assert workers.map(_where, [(2,), (3,)]) == [(4, os.getpid()), (9, os.getpid())]
        assert workers.submit(_where, 5)() == (25, os.getpid())


def test_a_dead_worker_raises_instead_of_hanging() -> None:
    with pytest.raises(BrokenProcessPool), Workers(2) as workers:
        workers.map(_die, [(1,), (1,)])


def test_the_fork_server_writes_nothing_to_the_commands_standard_error() -> None:
    """The fork server (and every worker forked from it) has /dev/null for standard error: a
    command that ends on a dead worker says one line, never the server's traceback after it."""
    from multiprocessing import forkserver

    from oblige.engine.batch.workers import process_context

    process_context()
    pid = forkserver._forkserver._forkserver_pid  # type: ignore[attr-defined]
    assert pid is not None and os.readlink(f"/proc/{pid}/fd/2") == os.devnull
    assert os.readlink(f"/proc/{os.getpid()}/fd/2") != os.devnull  # this process's own is untouched
    with Workers(2) as pool:
        assert set(pool.map(_stderr_of, [(1,), (2,)])) == {os.devnull}
