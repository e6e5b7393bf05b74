"""Reading ahead of an ingest (engine/store/ahead.py): other processes read, the verdicts are the same."""
from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from oblige import Engine
from oblige.engine.store import ahead
from oblige.engine.store.ahead import read_ahead
from oblige.engine.store.incoming import prepared
from oblige.engine.store.live import ingest
from oblige.engine.store.sql import EVENTS, Store
from oblige.facts.files import InputError, read_files
from tests.conftest import ev


def _lines(prefix: str, n: int) -> list[str]:
    """Valid events, with what a reader must tell apart from them: bad JSON, a byte that is not
    UTF-8, an unknown type, a repeat, a conflicting repeat, blank lines, a CRLF ending."""
    out = []
    for i in range(n):
        e = ev(f"{prefix}{i}", "child.missing_reported", f"2023-06-{1 + i % 28:02d}T10:00:00", "public_security",
               f"c{i % 40}", age=i % 17)
        out.append(json.dumps(e, ensure_ascii=False))
        if i % 37 == 5:
            out.append('{"id": "broken", "type": ')
        if i % 41 == 7:
            out.append(json.dumps({**e, "id": f"{prefix}x{i}", "type": "nope"}))
        if i % 43 == 9:
            out.append(json.dumps(e))  # the same event again: a duplicate
        if i % 47 == 11:
            out.append(json.dumps({**e, "data": {"age": 99}}))  # the same id, another event: a conflict
        if i % 53 == 13:
            out.append("")
    return out


def _write(path: Path, lines: list[str], crlf_at: int = 3, bad_byte_at: int = 17) -> Path:
    data = b""
    for k, line in enumerate(lines):
        raw = line.encode("utf-8")
        if k == bad_byte_at:
            raw = raw.replace(b'"c', b'"\xff', 1)
        data += raw + (b"\r\n" if k == crlf_at else b"\n")
    path.write_bytes(b"\xef\xbb\xbf" + data)  # a byte order mark too
    return path


@pytest.fixture
def inputs(tmp_path: Path) -> list[str]:
    return [str(_write(tmp_path / "a.jsonl", _lines("a", 400))), str(_write(tmp_path / "b.jsonl", _lines("b", 300)))]


@pytest.mark.parametrize("readers", [1, 2, 3])
def test_read_ahead_gives_what_reading_here_gives(engine: Engine, inputs: list[str], monkeypatch, readers: int) -> None:
    monkeypatch.setattr(ahead, "PIECE", 3000)  # dozens of pieces, dealt in turn to the readers
    here = list(prepared(read_files(inputs, engine.ruleset.units)))
    read = list(read_ahead(inputs, engine.ruleset.units, threshold=0, readers=readers))
    assert read == here
    assert len(here) > 700 and sum(1 for r in here if not hasattr(r, "body")) > 20  # rejections are in it


def test_stdin_arrays_and_small_inputs_are_read_here(engine: Engine, inputs: list[str], tmp_path: Path,
                                                     monkeypatch) -> None:
    array = tmp_path / "array.json"
    array.write_text(json.dumps([ev("r1", "child.missing_reported", "2023-06-01", "public_security", "c1", age=3)]),
                     encoding="utf-8")
    started: list[object] = []
    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", lambda self: started.append(self))
    assert len(list(read_ahead([str(array), *inputs], engine.ruleset.units, threshold=0))) > 700
    assert len(list(read_ahead(inputs, engine.ruleset.units))) > 700  # under AHEAD_BYTES
    assert started == []


def test_a_file_that_cannot_be_read_is_an_input_error(engine: Engine, inputs: list[str], tmp_path: Path) -> None:
    with pytest.raises(InputError, match="missing.jsonl"):
        list(read_ahead([*inputs, str(tmp_path / "missing.jsonl")], engine.ruleset.units, threshold=0))


def test_a_reader_that_dies_ends_the_reading_with_broken_process_pool(engine: Engine, inputs: list[str],
                                                                      monkeypatch) -> None:
    from concurrent.futures.process import BrokenProcessPool

    monkeypatch.setattr(ahead, "PIECE", 500)
    reading = read_ahead(inputs, engine.ruleset.units, threshold=0)
    next(reading)
    for child in multiprocessing.active_children():
        if child.name.startswith("oblige-read-ahead"):
            child.kill()
    with pytest.raises(BrokenProcessPool, match="reading the input ended"):
        list(reading)
    assert not [c for c in multiprocessing.active_children() if c.name.startswith("oblige-read-ahead")]


def test_a_caller_that_stops_early_leaves_no_reader_behind(engine: Engine, inputs: list[str], monkeypatch) -> None:
    monkeypatch.setattr(ahead, "PIECE", 500)
    reading = read_ahead(inputs, engine.ruleset.units, threshold=0)
    next(reading)
    reading.close()
    assert not [c for c in multiprocessing.active_children() if c.name.startswith("oblige-read-ahead")]


def test_an_ingest_read_ahead_stores_what_an_ingest_read_here_stores(engine: Engine, inputs: list[str],
                                                                     tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(ahead, "PIECE", 3000)
    stored = []
    for name, items in (("here", read_files(inputs, engine.ruleset.units)),
                        ("ahead", read_ahead(inputs, engine.ruleset.units, threshold=0))):
        store = Store(f"sqlite:///{tmp_path / name}.db")
        report, _, refreshed = ingest(engine, store, items, " ".join(inputs))
        with store._reading() as conn:
            rows = conn.execute(EVENTS.select().order_by(EVENTS.c.seq)).all()
        store.close()
        assert refreshed is not None and refreshed.events == report.stored
        stored.append((report.summary(), report.rejections,
                       [tuple(v for k, v in row._mapping.items() if k != "received_at") for row in rows]))
    assert stored[0] == stored[1]
    assert stored[0][0]["duplicates"] > 0 and stored[0][0]["rejected"] > 20


def test_a_worker_killed_during_an_ingest_says_what_stays_stored(tmp_path: Path) -> None:
    """The ingest's reading processes (and then its deriving ones) are fork-server children: one of
    them killed ends the command with exit 4 and one line saying that what was stored stays, and a
    second run finishes the ingest."""
    import subprocess
    import sys

    from bench.generate import generate
    from bench.kill import kill_a_worker_of
    from tests.conftest import ROOT

    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in generate(40_000, 3)), encoding="utf-8")
    assert path.stat().st_size > ahead.AHEAD_BYTES
    command = [sys.executable, "-c", "from oblige.cli import main; main()", "ingest", str(path), "--db",
               f"sqlite:///{tmp_path / 'o.db'}", "--format", "json"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    killed, err = kill_a_worker_of(proc)
    assert killed, "no worker process was seen"
    assert proc.returncode == 4, err
    assert err.strip().splitlines()[-1].startswith("oblige: a worker process died") and "stay stored" in err
    again = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["stored"] + report["duplicates"] == 40_000 - report["rejected"]


def test_an_ingest_killed_while_reading_ahead_leaves_no_process_behind(tmp_path: Path) -> None:
    """kill -9 of `oblige ingest` while its readers are ahead of it: they (and their fork server)
    end, rather than wait forever for a reader of what they read."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from oblige.engine.store.sql import Store
    from tests.conftest import ROOT

    lines = _lines("k", 40_000)
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert path.stat().st_size > ahead.AHEAD_BYTES
    url = f"sqlite:///{tmp_path / 'o.db'}"
    proc = subprocess.Popen([sys.executable, "-c", "from oblige.cli import main; main()", "ingest", str(path), "--db",
                             url], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if (tmp_path / "o.db").exists() and Store(url).count() > 0:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    def left() -> list[str]:  # the processes started for that command (its folder is on their sys.path)
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if str(tmp_path).encode() in f.read() and int(pid) != os.getpid():
                        found.append(pid)
            except OSError:
                continue
        return found

    deadline = time.monotonic() + 20
    while left() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left() == []


def _fresh_python(code: str) -> str:
    """`code` run by a new interpreter (a fork server is started once per process)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("size, started", [(0, False), (ahead.AHEAD_BYTES, True)])
def test_an_ingest_read_ahead_starts_its_fork_server_first_with_what_its_workers_run(
        tmp_path: Path, size: int, started: bool) -> None:
    """`warm_up` (the command line's first step of an ingest) starts the fork server before this process
    imports the reader, and the server imports the store, so that neither a reader nor a derivation
    worker waits for those imports; for a small input it starts nothing."""
    path = tmp_path / "events.jsonl"
    line = json.dumps(ev("e1", "child.missing_reported", "2023-06-01T10:00:00", "public_security", "c1")) + "\n"
    path.write_text(line * max(1, size // len(line) + 1), encoding="utf-8")
    out = _fresh_python(f"""
import sys
from multiprocessing import forkserver
from oblige.engine.store.ahead import warm_up
warm_up([{str(path)!r}])
print("reader imported first:", "oblige.facts.reader" in sys.modules)
print("started:", forkserver._forkserver._forkserver_pid is not None)
if forkserver._forkserver._forkserver_pid is not None:
    from oblige.engine.batch.workers import Workers
    from tests.jobs import loaded
    with Workers(2) as pool:
        print("workers have SQLAlchemy:", pool.map(loaded, [("sqlalchemy",), ("oblige.engine.store.kept",)]))
""")
    assert "reader imported first: False" in out
    assert f"started: {started}" in out
    if started:
        assert "workers have SQLAlchemy: [True, True]" in out
