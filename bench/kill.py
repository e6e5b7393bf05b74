"""Kill loop: does `eval --workers 2` always end with exit 4 when one of its workers is killed?

    python -m bench.kill --runs 40 [--delay 0.9] [--events 60000]

Each run starts `oblige eval` on a generated stream with two workers, waits `--delay` seconds,
kills the first worker process it sees (a child of the run's fork server) with SIGKILL, and
waits up to 30 s for the command to end. A run that does not end is a hang: its process tree is
printed (and each process's Python stack, where py-spy is installed) and the tree is killed.
Prints the tally of (exit code, whether a worker was killed). The shutdown races it looks for
are rare (about one run in 15 before the fix of 52bc672), so it is a loop, not a test.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.generate import generate

OBLIGE = [sys.executable, "-c", "from oblige.cli import main; main()"]


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return found


def kill_a_worker(pid: int) -> bool:
    """SIGKILL the first worker of `pid`'s fork server; False when there is none yet."""
    for server in children(pid):
        try:
            with open(f"/proc/{server}/cmdline", "rb") as f:
                if b"forkserver" not in f.read():
                    continue
        except OSError:
            continue
        workers = children(server)
        if workers:
            os.kill(workers[0], signal.SIGKILL)
            return True
    return False


def kill_a_worker_of(proc: subprocess.Popen[str], within: float = 60) -> tuple[bool, str]:
    """SIGKILL the first worker of `proc`'s fork server as soon as there is one (for `within`
    seconds): whether one was killed, and `proc`'s standard error once it has ended."""
    killed = False
    deadline = time.monotonic() + within
    while not killed and proc.poll() is None and time.monotonic() < deadline:
        killed = kill_a_worker(proc.pid)
        time.sleep(0.01)
    _, err = proc.communicate(timeout=120)
    return killed, err or ""


def report_hang(pid: int) -> None:
    tree = subprocess.run(["ps", "-o", "pid,ppid,stat,cmd", "--forest", "-g", str(pid)],
                          capture_output=True, text=True).stdout
    print(tree, flush=True)
    if shutil.which("py-spy"):
        for line in tree.splitlines()[1:]:
            dump = subprocess.run(["py-spy", "dump", "--pid", line.split()[0]], capture_output=True, text=True)
            print(dump.stdout, flush=True)


def one_run(path: Path, delay: float) -> tuple[int | str, bool]:
    proc = subprocess.Popen([*OBLIGE, "eval", str(path), "--as-of", "2024-06-01", "--format", "json", "--workers", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    started = time.monotonic()
    killed = False
    while not killed and proc.poll() is None and time.monotonic() < started + 60:
        if time.monotonic() - started >= delay:
            killed = kill_a_worker(proc.pid)
        time.sleep(0.01)
    try:
        proc.communicate(timeout=30)
        return proc.returncode, killed
    except subprocess.TimeoutExpired:
        report_hang(proc.pid)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return "hang", killed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before a worker is killed")
    parser.add_argument("--events", type=int, default=60_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="oblige-kill-") as work:
        path = Path(work) / "events.jsonl"
        path.write_text("".join(json.dumps(e) + "\n" for e in generate(args.events, 3)), encoding="utf-8")
        tally: Counter[tuple[int | str, bool]] = Counter()
        for run in range(args.runs):
            outcome = one_run(path, args.delay)
            tally[outcome] += 1
            print(run, outcome, flush=True)
    print(dict(tally))
    sys.exit(0 if set(tally) == {(4, True)} else 1)


if __name__ == "__main__":
    main()
