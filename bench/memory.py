"""Run a command and report its wall time and peak memory summed over its whole process tree.

    python bench/memory.py -- oblige eval big.jsonl --format json
"""
from __future__ import annotations

import os
import subprocess
import sys
import time


def tree_rss(root: int) -> int:
    """Resident bytes of `root` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def measure(argv: list[str], stdout=subprocess.DEVNULL) -> tuple[float, int, int]:
    """(seconds, peak bytes over the process tree, exit code)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.DEVNULL)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss(proc.pid))
        time.sleep(0.05)
    return time.perf_counter() - start, peak, proc.returncode


if __name__ == "__main__":
    args = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
    seconds, peak, code = measure(args)
    print(f"{seconds:.2f} s, peak {peak / 2**20:.0f} MiB (process tree), exit {code}")
