"""Functions that worker processes run in tests: they live in a module a spawned process can import."""
from __future__ import annotations

import os


def where(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def die(code: int) -> None:
    os._exit(code)  # as a crash in the matching core or the out-of-memory killer would


def stderr_of(_: int) -> str:
    """Where this worker's file descriptor 2 (standard error) goes, as /proc names it."""
    return os.readlink("/proc/self/fd/2")


def loaded(module: str) -> bool:
    """Whether this worker had `module` before its job came (imported by the fork server it was forked from)."""
    import sys

    return module in sys.modules
