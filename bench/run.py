"""The benchmark: oblige beside its matching floors, on one generated stream.

    python -m bench.run --events 1000000            # from the checkout; takes a few minutes
    python -m bench.run --events 100000 --skip ingest,findings

Reports events/s and peak memory (summed over the process tree) for `eval`, `ingest`,
`findings` and `audit`, the floors (a) raw durable_rules and (b) CLIPS through clipspy on the
same stream, ratios oblige/floor, and the p99 latency of adding one event to an embedded
session and reading that subject's findings. Needs `pip install clipspy` for floor (b).
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.generate import generate
from bench.memory import measure, tree_rss

ROOT = Path(__file__).resolve().parent.parent


def floors(path: Path, clips: bool = True) -> dict[str, float]:
    """Seconds for each floor: reading + grouping, then matching (separately timed).

    Run in a child process, so that no floor's memory or collector state slows the next run."""
    code = f"import json, sys; from bench.run import _floors; print(json.dumps(_floors({str(path)!r}, {clips!r})))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _floors(path: str, clips: bool) -> dict[str, float]:
    from bench.floors import clips_floor, durable_floor, partitions
    from oblige.engine.rules.ruleset import load_ruleset

    rs = load_ruleset()
    out: dict[str, float] = {}
    start = time.perf_counter()
    with open(path, encoding="utf-8") as f:
        parts = partitions(f, rs)
    out["read_and_group"] = time.perf_counter() - start
    start = time.perf_counter()
    durable_floor(parts, rs)
    out["durable_match"] = time.perf_counter() - start
    try:
        import clips as _  # noqa: F401
    except ImportError:
        return out
    if clips:
        start = time.perf_counter()
        clips_floor(parts, rs)
        out["clips_match"] = time.perf_counter() - start
    return out


def timed(argv: list[str]) -> tuple[float, int, int]:
    """`bench.memory.measure`, with the wall time taken when the command exits rather than at the
    next 50 ms poll (on average 25 ms late): (seconds, peak bytes over the process tree, exit code).

    The tree is still sampled every 50 ms, from a thread, for the peak memory."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = [0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss(proc.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = proc.wait()
    seconds = time.perf_counter() - start
    sampler.join()
    return seconds, peak[0], code


def incremental_p99(n_background: int = 50_000, n_ops: int = 5_000) -> tuple[float, float]:
    """p50 and p99 milliseconds to add one event and read that subject's findings."""
    from oblige import Engine
    from oblige.facts.reader import read_lines
    from oblige.facts.timeutil import parse_instant

    engine = Engine.load()
    units = engine.ruleset.units
    session = engine.session()
    session.add_all(read_lines((json.dumps(e) for e in generate(n_background, 3)), "bg", units))
    session.findings(parse_instant("2024-06-01"))  # match everything once, as a running service has
    as_of = parse_instant("2024-06-01")
    rng = random.Random(5)
    times = []
    for i in range(n_ops):
        subject = f"s{rng.randint(1, n_background // 2)}"
        line = json.dumps({"id": f"inc{i}", "type": "medical_care.provided", "occurred_at": "2023-07-01",
                           "unit": "health", "subject": subject, "data": {}})
        start = time.perf_counter()
        session.add_all(read_lines([line], "inc", units))
        session.findings_for(subject, as_of)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99)]


def main() -> None:
    parser = argparse.ArgumentParser(description="oblige benchmark")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip", default="", help="comma list of: floors,eval,ingest,findings,audit,incremental")
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds of (floor (a), eval) back to back; the ratio reported is the median round's")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    oblige = [sys.executable, "-c", "from oblige.cli import main; main()"]
    with tempfile.TemporaryDirectory(prefix="oblige-bench-") as tmp:
        work = Path(tmp)
        stream = work / "events.jsonl"
        with stream.open("w", encoding="utf-8") as f:
            for event in generate(args.events, args.seed):
                f.write(json.dumps(event, separators=(",", ":")) + "\n")
        n = args.events
        rows: list[tuple[str, float, int | None]] = []
        as_of = ["--as-of", "2024-06-01"]
        floor: dict[str, float] = {}  # the median round's floors (CLIPS is timed in the first round only)
        rounds: list[tuple[float, dict[str, float], int]] = []  # (eval seconds, floors, eval peak bytes)
        for k in range(max(1, args.repeat)):
            # floor (a) and eval back to back, so that each ratio compares runs on one machine state
            this = {} if "floors" in skip else floors(stream, clips=k == 0)
            floor = floor or this
            if "eval" in skip:
                break
            s, peak, _ = timed([*oblige, "eval", str(stream), *as_of, "--format", "json"])
            rounds.append((s, this, peak))
            if this:
                a = this["read_and_group"] + this["durable_match"]
                print(f"round {k + 1}: eval {s:.2f} s, floor (a) {a:.2f} s, ratio {s / a:.2f}", file=sys.stderr)
        if rounds:
            def ratio(r: tuple[float, dict[str, float], int]) -> float:
                return r[0] / (r[1]["read_and_group"] + r[1]["durable_match"]) if r[1] else r[0]
            s, median, _ = sorted(rounds, key=ratio)[len(rounds) // 2]
            rows.append((f"oblige eval (findings JSON written; median of {len(rounds)})", s, max(r[2] for r in rounds)))
            if median:
                floor = {**median, **({"clips_match": floor["clips_match"]} if "clips_match" in floor else {})}
        db = f"sqlite:///{work / 'bench.db'}"
        if "ingest" not in skip:
            s, peak, _ = measure([*oblige, "ingest", str(stream), "--db", db])
            rows.append(("oblige ingest (SQLite)", s, peak))
            if "findings" not in skip:
                s, peak, _ = measure([*oblige, "findings", "--db", db, *as_of, "--format", "json"])
                rows.append(("oblige findings (SQLite)", s, peak))
        if "audit" not in skip:
            subprocess.run([sys.executable, str(ROOT / "bench" / "province.py"), "--rows", "20000", "--out", str(work / "prov")],
                           check=True)
            s, peak, _ = measure([*oblige, "audit", str(work / "prov" / "records.csv"), "--units",
                                  str(work / "prov" / "units.yaml"), "--as-of", "2031-01-01", "--format", "json"])
            rows.append(("oblige audit, 20,000 unit-year rows", s, peak))
        print(f"\nstream: {n:,} events (seed {args.seed})\n")
        print(f"{'run':<56} {'seconds':>8} {'events/s':>10} {'peak MiB':>9}")
        for name, s, peak in rows:
            rate = f"{n / s:>10,.0f}" if "audit" not in name else f"{'—':>10}"
            print(f"{name:<56} {s:>8.2f} {rate} {peak / 2**20 if peak else 0:>9.0f}")
        if floor:
            read = floor["read_and_group"]
            print(f"\nfloor: read + group by partition         {read:>8.2f}")
            for name in ("durable_match", "clips_match"):
                if name in floor:
                    total = read + floor[name]
                    print(f"floor ({'a' if 'durable' in name else 'b'}) {name:<30} {total:>8.2f}  (matching alone {floor[name]:.2f})")
            if rows and rows[0][0].startswith("oblige eval"):
                for name in ("durable_match", "clips_match"):
                    if name in floor:
                        print(f"ratio oblige eval / floor {name}: {rows[0][1] / (read + floor[name]):.2f}")
        if "incremental" not in skip:
            p50, p99 = incremental_p99()
            print(f"\nembedded session, add one event + read its subject: p50 {p50:.3f} ms, p99 {p99:.3f} ms")


if __name__ == "__main__":
    main()
