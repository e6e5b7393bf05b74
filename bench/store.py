"""The kept-findings benchmark (issue #16): one generated stream in a fresh store, on SQLite or PostgreSQL.

    python -m bench.store --events 200000 --db sqlite
    python -m bench.store --events 200000 --db postgresql     # a fresh database on the local server, dropped after

Measures, each beside the load average of the moment:
- `oblige ingest` of the whole file into a fresh store (events stored and findings derived), wall time;
- the incremental case: the same stream ingested in batches (default 10,000 events) into a growing store;
- `oblige findings --format json` against `oblige eval --format json`, same --as-of: byte-identical or not;
- the derivation alone: every partition re-derived in-process on one core (partitions/s, µs per partition),
  and the events per partition;
- a real `oblige serve`: sequential GET /v1/findings?unit=X (limit=100 and unpaged; a big unit and a
  small one) and GET /v1/agenda?unit=X, p50 and p99; then 50 concurrent readers while the server's
  process tree is sampled for resident memory.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.generate import generate
from bench.memory import tree_rss

ROOT = Path(__file__).resolve().parent.parent
OBLIGE = [sys.executable, "-c", "from oblige.cli import main; main()"]
AS_OF = "2024-06-01"
PG_SERVER = "postgresql+psycopg://root@127.0.0.1:5432"
BIG, SMALL = "public_security", "health"
AGENDA = {"from": "2023-12-01", "to": "2024-03-01"}  # the stream ends late January 2024: duties still open


def load() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


# -- stores --------------------------------------------------------------------------------------
class Fresh:
    """A fresh, empty store URL for each use; PostgreSQL databases are dropped afterwards."""

    def __init__(self, kind: str, work: Path):
        self.kind, self.work, self.made = kind, work, []

    def new(self, name: str) -> str:
        if self.kind == "sqlite":
            path = self.work / f"{name}.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            return f"sqlite:///{path}"
        db = f"oblige_bench_{name}_{os.getpid()}"
        self._admin(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)", f"CREATE DATABASE {db}")
        if db not in self.made:
            self.made.append(db)
        return f"{PG_SERVER}/{db}"

    def _admin(self, *statements: str) -> None:
        import psycopg

        with psycopg.connect("postgresql://root@127.0.0.1:5432/postgres", autocommit=True) as conn:
            for s in statements:
                conn.execute(s)

    def drop_all(self) -> None:
        for db in self.made:
            self._admin(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        self.made.clear()


def oblige(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*OBLIGE, *args], cwd=ROOT, **kw)


# -- ingest ------------------------------------------------------------------------------------
def measure(argv: list[str], stderr) -> tuple[float, int, int]:
    """(seconds, peak bytes over the process tree, exit code), as bench/memory.py, keeping stderr."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss(proc.pid))
        time.sleep(0.05)
    return time.perf_counter() - start, peak, proc.returncode


def ingest_whole(stream: Path, url: str, work: Path) -> tuple[float, int]:
    with (work / "ingest.err").open("w+") as err:
        seconds, peak, code = measure([*OBLIGE, "ingest", str(stream), "--db", url, "-q"], err)
        if code != 0:
            err.seek(0)
            raise RuntimeError(f"oblige ingest exited {code}: {err.read()[-2000:]}")
    return seconds, peak


def ingest_batches(batches: list[Path], url: str, budget: float) -> tuple[list[float], str | None]:
    """Seconds of each `oblige ingest` of one batch, in order, into one growing store (and the
    error of the batch that failed, if one did); stops after `budget` seconds."""
    times: list[float] = []
    for k, b in enumerate(batches):
        if sum(times) > budget:
            say(f"  stopped after {k} batches: --batch-budget {budget:.0f} s spent")
            break
        start = time.perf_counter()
        done = oblige("ingest", str(b), "--db", url, "-q", stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0:
            return times, f"batch {k + 1} ({b.name}) exited {done.returncode}: {done.stderr[-2000:]}"
        times.append(time.perf_counter() - start)
        say(f"  batch {k + 1}: {times[-1]:.2f} s ({load()})")
    return times, None


# -- findings = eval ---------------------------------------------------------------------------
def same_as_eval(stream: Path, url: str, work: Path) -> dict[str, object]:
    kept, evaluated = work / "findings.json", work / "eval.json"
    start = time.perf_counter()
    oblige("findings", "--db", url, "--as-of", AS_OF, "--format", "json", "-q", "--out", str(kept), check=True)
    t_findings = time.perf_counter() - start
    start = time.perf_counter()
    oblige("eval", str(stream), "--as-of", AS_OF, "--format", "json", "--out", str(evaluated),
           stdout=subprocess.DEVNULL)  # exits 1 when violations exist
    t_eval = time.perf_counter() - start
    a, b = kept.read_bytes(), evaluated.read_bytes()
    out = {"identical": a == b, "bytes": len(a), "findings_s": t_findings, "eval_s": t_eval, "load": load()}
    if a != b:  # say where they part
        i = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
        out["first_difference"] = i
        out["kept_near"] = a[max(0, i - 80):i + 80].decode("utf-8", "replace")
        out["eval_near"] = b[max(0, i - 80):i + 80].decode("utf-8", "replace")
    kept.unlink()
    evaluated.unlink()
    return out


# -- derivation cost ---------------------------------------------------------------------------
def derivation(url: str) -> dict[str, object]:
    """Every partition marked dirty and re-derived in this process on one core (read events, match,
    timeline, write rows) — with their rows kept (what is derived again unchanged stays) and into empty
    kept tables (as an ingest into a new store) — and the unit partitions alone."""
    from sqlalchemy import delete, func, select

    from oblige import Engine
    from oblige.engine.store.kept import Keeper
    from oblige.engine.store.kept_tables import KEPT_TABLES
    from oblige.engine.store.sql import DIRTY, EVENTS, Store

    store = Store(url, create=False)
    keeper = Keeper(store, Engine.load())
    try:
        with store._reading() as conn:
            sizes = dict(conn.execute(select(EVENTS.c.part, func.count()).group_by(EVENTS.c.part)).all())
        subject = sorted(n for p, n in sizes.items() if p and p.startswith("subject:"))
        unit = {p: n for p, n in sizes.items() if p and p.startswith("unit:")}
        out: dict[str, object] = {
            "subject_partitions": len(subject), "unit_partitions": len(unit),
            "events_per_subject_partition": {"mean": round(statistics.mean(subject), 2),
                                             "median": statistics.median(subject), "max": subject[-1]},
            "largest_unit_partitions": dict(sorted(unit.items(), key=lambda kv: -kv[1])[:3])}

        def timed(parts: dict[str, int], fresh: bool = False) -> tuple[float, int, int]:
            with keeper._writing() as conn:
                if fresh:  # as an ingest into a new store finds them: no rows kept yet
                    for table in KEPT_TABLES:
                        conn.execute(delete(table))
                store.mark_dirty(conn, parts)
            # as ingest and rebuild do after marking: PostgreSQL, planning for the empty table it last
            # saw, cleared each chunk's marks by scanning all of them (the re-derivation took 4x longer)
            store.analyze({DIRTY.name: len(parts)})
            start = time.perf_counter()
            done = keeper.refresh(workers=1)
            return time.perf_counter() - start, done.partitions, done.events

        with store._reading() as conn:
            every = dict(conn.execute(select(EVENTS.c.part, func.max(EVENTS.c.seq)).group_by(EVENTS.c.part)).all())
        every = {p: s for p, s in every.items() if p}
        for unit_code in keeper.engine.duties:
            every.setdefault(f"unit:{unit_code}", 0)
        say(f"  derivation: {len(every):,} partitions on one core ({load()})")
        s, parts, events = timed(every)
        out["all"] = {"seconds": round(s, 2), "partitions": parts, "events": events,
                      "partitions_per_s": round(parts / s), "us_per_partition": round(s / parts * 1e6),
                      "us_per_event": round(s / max(events, 1) * 1e6, 1), "load": load()}
        say(f"  derivation into empty kept tables ({load()})")
        s, parts, events = timed(every, fresh=True)
        out["all_into_empty_tables"] = {"seconds": round(s, 2), "partitions": parts, "events": events,
                                        "partitions_per_s": round(parts / s), "us_per_partition": round(s / parts * 1e6),
                                        "us_per_event": round(s / max(events, 1) * 1e6, 1), "load": load()}
        units_only = {p: s for p, s in every.items() if p.startswith("unit:")}
        s, parts, events = timed(units_only)
        out["unit_partitions_only"] = {"seconds": round(s, 2), "partitions": parts, "events": events,
                                       "ms_per_partition": round(s / max(parts, 1) * 1e3, 1), "load": load()}
        return out
    finally:
        store.close()


# -- the service -------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([*OBLIGE, "serve", "--db", url, "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import httpx

    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("oblige serve did not start")


def latencies(client, path: str, params: dict[str, str], n: int, budget: float = 120.0) -> dict[str, object]:
    """n sequential requests (fewer if they exceed `budget` seconds); p50/p99 in ms, answer size.

    This process collects its own garbage after each request, outside the timed span: an unpaged
    answer (246 MB at 1M events) sits in a reference cycle of the client's, and freeing a series of
    them in a collection in the middle of a later series made one agenda request of 40 take 170 ms on
    this side of the socket (the server had answered in 8 ms, timed at its ASGI door)."""
    client.get(path, params=params)  # warm
    gc.collect()
    times: list[float] = []
    size, status = 0, 0
    started = time.perf_counter()
    while len(times) < n and time.perf_counter() - started < budget:
        start = time.perf_counter()
        r = client.get(path, params=params)
        times.append((time.perf_counter() - start) * 1000)
        size, status = len(r.content), r.status_code
        del r
        gc.collect()
    return {"requests": len(times), "status": status, "bytes": size, "p50_ms": round(statistics.median(times), 1),
            "p99_ms": round(quantile(times, 0.99), 1), "max_ms": round(max(times), 1), "load": load()}


def service(url: str, n: int, readers: int, seconds: float) -> dict[str, object]:
    import httpx

    proc, base = serve(url)
    out: dict[str, object] = {}
    try:
        with httpx.Client(base_url=base, timeout=600) as client:
            idle = tree_rss(proc.pid)
            for unit in (BIG, SMALL):
                say(f"  GET /v1/findings?unit={unit} ({load()})")
                out[f"findings unit={unit} limit=100"] = latencies(client, "/v1/findings",
                                                                   {"unit": unit, "limit": "100", "as_of": AS_OF}, n)
                out[f"findings unit={unit} unpaged"] = latencies(client, "/v1/findings",
                                                                 {"unit": unit, "as_of": AS_OF}, n)
                out[f"agenda unit={unit}"] = latencies(client, "/v1/agenda", {"unit": unit, **AGENDA}, n)
                agenda = client.get("/v1/agenda", params={"unit": unit, **AGENDA}).json()
                out[f"agenda unit={unit}"]["items"] = len(agenda["items"])
        out["concurrent"] = concurrent(proc.pid, base, readers, seconds)
        out["concurrent"]["rss_idle_mib"] = round(idle / 2**20)
    finally:
        proc.terminate()
        proc.wait(30)
    return out


def concurrent(pid: int, base: str, readers: int, seconds: float) -> dict[str, object]:
    """`readers` threads, each with its own connection, asking in turn for a unit's findings (paged and
    unpaged) and agenda for `seconds`; the server's process tree sampled for resident memory."""
    import httpx

    codes: dict[int, int] = {}
    times: list[float] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds
    asks = [("/v1/findings", {"unit": BIG, "limit": "100", "as_of": AS_OF}),
            ("/v1/findings", {"unit": SMALL, "as_of": AS_OF}),
            ("/v1/findings", {"unit": BIG, "as_of": AS_OF}),
            ("/v1/agenda", {"unit": SMALL, **AGENDA})]

    def reader(k: int) -> None:
        with httpx.Client(base_url=base, timeout=600) as client:
            i = k
            while time.perf_counter() < stop:
                path, params = asks[i % len(asks)]
                start = time.perf_counter()
                try:
                    code = client.get(path, params=params).status_code
                except httpx.HTTPError:
                    code = -1
                with lock:
                    codes[code] = codes.get(code, 0) + 1
                    times.append((time.perf_counter() - start) * 1000)
                i += 1

    threads = [threading.Thread(target=reader, args=(k,)) for k in range(readers)]
    peak = 0
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        peak = max(peak, tree_rss(pid))
        time.sleep(0.05)
    return {"readers": readers, "seconds": seconds, "requests": len(times), "status_codes": codes,
            "p50_ms": round(statistics.median(times), 1) if times else None,
            "rss_peak_mib": round(peak / 2**20), "load": load()}


# -- the whole run -----------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description="kept findings benchmark (issue #16)")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--repeat", type=int, default=3, help="whole-file ingests (median reported)")
    parser.add_argument("--batch", type=int, default=10_000, help="events per batch of the incremental case")
    parser.add_argument("--batch-budget", type=float, default=3600.0,
                        help="stop the incremental case after this many seconds (the batches done are reported)")
    parser.add_argument("--requests", type=int, default=50, help="sequential requests per endpoint")
    parser.add_argument("--readers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of the concurrent phase")
    parser.add_argument("--store", default=None,
                        help="an existing store holding this very stream (same --events and --seed): no whole ingest, "
                             "its reads measured")
    parser.add_argument("--skip", default="", help="comma list of: whole,batches,compare,derive,serve (without whole, no reads either)")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True)
    result: dict[str, object] = {"events": args.events, "db": args.db, "seed": args.seed,
                                 "revision": commit.stdout.strip(), "started": time.strftime("%H:%M:%S")}
    say(f"revision {result['revision']}")
    with tempfile.TemporaryDirectory(prefix="oblige-store-bench-") as tmp:
        work = Path(tmp)
        fresh = Fresh(args.db, work)
        stream = work / "events.jsonl"
        lines = [json.dumps(e, separators=(",", ":")) + "\n" for e in generate(args.events, args.seed)]
        stream.write_text("".join(lines), encoding="utf-8")
        try:
            # whole file into a fresh store; the last one is kept for the reads
            runs = []
            url = args.store
            for k in range(0 if "whole" in skip or url else max(1, args.repeat)):
                url = fresh.new("whole")  # the same store each time, emptied
                say(f"ingest {args.events:,} events, run {k + 1} ({load()})")
                seconds, peak = ingest_whole(stream, url, work)
                runs.append({"seconds": round(seconds, 2), "events_per_s": round(args.events / seconds),
                             "peak_mib": round(peak / 2**20), "load": load()})
                say(f"  {runs[-1]}")
            if runs:
                result["ingest_whole"] = runs
                result["ingest_whole_median_events_per_s"] = statistics.median(r["events_per_s"] for r in runs)
            elif url is None:
                skip |= {"compare", "serve", "derive"}
            if "compare" not in skip:
                say(f"findings vs eval ({load()})")
                result["findings_equals_eval"] = same_as_eval(stream, url, work)
                say(f"  {result['findings_equals_eval']}")
            if "serve" not in skip:
                say(f"service ({load()})")
                result["service"] = service(url, args.requests, args.readers, args.seconds)
                say(json.dumps(result["service"], indent=1))
            if "derive" not in skip:
                say(f"derivation ({load()})")
                result["derivation"] = derivation(url)
                say(json.dumps(result["derivation"], indent=1))
            if "batches" not in skip:
                batches = []
                for i in range(0, len(lines), args.batch):
                    b = work / f"batch{i // args.batch:04d}.jsonl"
                    b.write_text("".join(lines[i:i + args.batch]), encoding="utf-8")
                    batches.append(b)
                url = fresh.new("batches")
                say(f"ingest in {len(batches)} batches of {args.batch:,} ({load()})")
                times, failed = ingest_batches(batches, url, args.batch_budget)
                total = sum(times)
                result["ingest_batches"] = {
                    "batches": len(times), "failed": failed, "batch": args.batch, "seconds": round(total, 2),
                    "events_per_s": round(min(len(lines), len(times) * args.batch) / total) if times else None,
                    "first_batch_s": round(times[0], 2), "last_batch_s": round(times[-1], 2),
                    "median_batch_s": round(statistics.median(times), 2), "max_batch_s": round(max(times), 2),
                    "load": load()}
                say(f"  {result['ingest_batches']}")
        finally:
            if args.db == "postgresql":
                fresh.drop_all()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
