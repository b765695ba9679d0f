"""Ledger scale: ingest rate and report latency at 1M and 10M events, on SQLite and PostgreSQL.

For each size and backend, on a fresh store:

  1. bulk-load N synthetic events spread over 2026-01-01 .. 2026-03-31 (SQLite executemany in
     big transactions, PostgreSQL COPY: the fast path a bench needs, not the SDK's write path);
  2. `Ledger.rebuild_rollups()` (the daily and hourly rollups from the raw events);
  3. ingest: `Ledger.write` of fresh events in batches of 500 (the processor's default batch),
     timed, on top of the N events;
  4. report latency, median of 5 warm runs of `build_report(..., now=...)`, which queries the
     period AND the previous period (for the change column):
       - "last month by team" in UTC and in Europe/Berlin (rollups: daily + hourly edges)
       - "top 10 customers, last month" (Europe/Berlin)
       - "last month by competitor" (a custom attribute: a raw scan of the month, 1 run)

The workload is the case study's: support (45%, 200 customers, 2 OpenAI models, 3 operations),
knowledge (30%, Anthropic chat, Cohere embed + rerank, no customer) and sales (25%, three
providers, 20 competitors as a custom attribute); 95% production, 1% errors.

Run:  python bench/bench_ledger.py --events 1000000 --backends sqlite postgres
      python bench/bench_ledger.py --events 1000000 10000000 --ingest 20000   (bench/RESULTS.md)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from genops.analytics.periods import parse_period
from genops.analytics.report import build_report
from genops.events import Attribution, Cost, Usage, UsageEvent
from genops.ledger import Ledger, open_ledger
from genops.ledger.rows import EVENT_COLUMNS, EVENTS_TABLE, to_pico, to_us

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 4, 1, tzinfo=UTC)
NOW = datetime(2026, 4, 15, 12, tzinfo=UTC)  # "last month" = March 2026
PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"

# (weight, team, project, customer count, [(provider, kind, model, input, output, $ per M in, $ per M out)], operations)
TEAMS = [
    (45, "support", "chatbot", 200,
     [("openai", "chat", "gpt-4o-mini", 900, 250, "0.15", "0.60"), ("openai", "chat", "gpt-4o", 1100, 300, "2.5", "10")],
     ["answer", "classify", "summarize"]),
    (30, "knowledge", "kb", 0,
     [("anthropic", "chat", "claude-sonnet-4", 3000, 600, "3", "15"), ("cohere", "embeddings", "embed-english-v3.0", 512, 0, "0.1", "0"),
      ("cohere", "rerank", "rerank-v3.5", 0, 0, "0", "0")],
     ["ingest", "answer", "search"]),
    (25, "sales", "intel", 0,
     [("openai", "chat", "gpt-4-turbo", 2000, 800, "10", "30"), ("anthropic", "chat", "claude-opus-4", 2000, 800, "15", "75"),
      ("cohere", "chat", "command-r-plus", 2000, 800, "2.5", "10")],
     ["competitor_analysis"]),
]  # fmt: skip
COMPETITORS = [f"competitor-{i:02d}" for i in range(20)]


def templates(seed: int = 7) -> list[tuple[Any, ...]]:
    """Row templates: every EVENT_COLUMNS value except id, start_us, end_us, recorded_us."""
    rng = random.Random(seed)
    out = []
    for weight, team, project, customers, models, operations in TEAMS:
        for _ in range(weight * 60):
            provider, kind, model, tin, tout, pin, pout = rng.choice(models)
            tin = int(tin * rng.uniform(0.5, 1.5)) if tin else None
            tout = int(tout * rng.uniform(0.5, 1.5)) if tout else (0 if tin else None)
            cost = (Decimal(tin or 0) * Decimal(pin) + Decimal(tout or 0) * Decimal(pout)) / 1_000_000
            if kind == "rerank":
                cost = Decimal("0.002")
            status = "error" if rng.random() < 0.01 else "ok"
            customer = f"cust-{int(rng.paretovariate(1.2)) % customers:03d}" if customers else None
            attrs = {"competitor": rng.choice(COMPETITORS)} if team == "sales" else {}
            pico, _ = to_pico(cost)
            values = {
                "provider": provider, "operation_kind": kind, "request_model": model, "response_model": model,
                "model": model, "input_tokens": tin, "output_tokens": tout, "cached_input_tokens": 0,
                "cache_write_tokens": 0, "reasoning_tokens": 0, "usage_units": "{}", "usage_provenance": "reported",
                "cost_pico": pico, "cost_usd": format(cost.normalize(), "f"), "cost_inexact": 0,
                "cost_input": None, "cost_output": None, "cost_components": "{}", "currency": "USD",
                "price_source": "genai-prices", "price_version": "bench", "team": team, "project": project,
                "customer_id": customer, "user_id": None, "environment": "staging" if rng.random() < 0.05 else "production",
                "operation": rng.choice(operations), "service": f"{team}-api",
                "attributes": json.dumps(attrs, separators=(",", ":")), "latency_ms": 850.0, "status": status,
                "error_type": None, "stream": 0, "decisions": "[]", "substituted_from": None,
            }  # fmt: skip
            out.append(tuple(values[c] for c in EVENT_COLUMNS[3:-1]))
    return out


def rows(n: int, prefix: str = "b") -> Iterator[tuple[Any, ...]]:
    """n event rows in time order, evenly over [START, END)."""
    pool = templates()
    rng = random.Random(1)
    picks = [rng.randrange(len(pool)) for _ in range(65_536)]
    start_us, span = to_us(START), to_us(END) - to_us(START)
    step = span / n
    recorded = to_us(END)
    for i in range(n):
        t = start_us + int(i * step)
        yield (f"{prefix}{i:010d}", t, t + 850_000, *pool[picks[(i * 40503) & 0xFFFF]], recorded)


def bulk_load(url: str, n: int, progress: Callable[[int], None]) -> None:
    columns = ", ".join(EVENT_COLUMNS)
    chunk = 100_000
    if url.startswith("sqlite:///"):
        import sqlite3

        conn = sqlite3.connect(url[len("sqlite:///") :], isolation_level=None)
        conn.execute("PRAGMA synchronous = OFF")
        sql = f"INSERT INTO {EVENTS_TABLE} ({columns}) VALUES ({', '.join('?' * len(EVENT_COLUMNS))})"
        batch: list[tuple[Any, ...]] = []
        for row in rows(n):
            batch.append(row)
            if len(batch) == chunk:
                conn.execute("BEGIN")
                conn.executemany(sql, batch)
                conn.execute("COMMIT")
                progress(len(batch))
                batch = []
        if batch:
            conn.execute("BEGIN")
            conn.executemany(sql, batch)
            conn.execute("COMMIT")
            progress(len(batch))
        conn.close()
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur:
        done = 0
        with cur.copy(f"COPY {EVENTS_TABLE} ({columns}) FROM STDIN") as copy:
            for row in rows(n):
                copy.write_row(row)
                done += 1
                if done % chunk == 0:
                    progress(chunk)
        progress(done % chunk)
        cur.execute(f"ANALYZE {EVENTS_TABLE}")


def fresh_events(n: int, seed: int = 3) -> list[UsageEvent]:
    """n new UsageEvents in March 2026 (what the SDK's processor hands to Ledger.write)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        t = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(31 * 86400))
        team = rng.choice(["support", "knowledge", "sales"])
        out.append(
            UsageEvent(
                id=f"w{seed}-{i:08d}", start_time=t, end_time=t + timedelta(milliseconds=850), provider="openai",
                operation_kind="chat", request_model="gpt-4o-mini", response_model="gpt-4o-mini",
                usage=Usage(input_tokens=900, output_tokens=250), cost=Cost(total=Decimal("0.000285")),
                attribution=Attribution(team=team, project="p", customer_id=f"cust-{rng.randrange(200):03d}",
                                        environment="production", operation="answer"),
                latency_ms=850.0,
            )
        )  # fmt: skip
    return out


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    fn()  # warm-up
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def run(backend: str, n: int, workdir: Path, ingest: int, repeat: int) -> dict[str, Any]:
    admin = None
    if backend == "sqlite":
        path = workdir / f"ledger-{n}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        import psycopg

        schema = f"genops_bench_{n}"
        admin = psycopg.connect(PG_DSN, autocommit=True)
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.execute(f'CREATE SCHEMA "{schema}"')
        url = f"{PG_DSN}?options=-csearch_path%3D{schema}"
    result: dict[str, Any] = {"backend": backend, "events": n}
    try:
        open_ledger(url).close()  # schema
        loaded = [0]
        t0 = time.perf_counter()

        def note(k: int) -> None:
            loaded[0] += k
            if loaded[0] % 1_000_000 < k:
                print(f"  {backend}: loaded {loaded[0]:,}/{n:,} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)

        bulk_load(url, n, note)
        result["bulk_load_s"] = time.perf_counter() - t0
        store: Ledger = open_ledger(url)
        try:
            t0 = time.perf_counter()
            store.rebuild_rollups()
            result["rebuild_s"] = time.perf_counter() - t0
            if backend == "postgres":
                assert admin is not None
                admin.execute(f'ANALYZE "{schema}".genops_daily_spend')
                admin.execute(f'ANALYZE "{schema}".genops_hourly_spend')
            batch = 500
            events = fresh_events(ingest)
            t0 = time.perf_counter()
            for i in range(0, ingest, batch):
                store.write(events[i : i + batch])
            result["ingest_eps"] = ingest / (time.perf_counter() - t0)
            result["daily_rows"], result["hourly_rows"] = rollup_rows(store)
            cases = {
                "team_utc": ("last-month", "UTC", "team", None),
                "team_berlin": ("last-month", "Europe/Berlin", "team", None),
                "top10_customers": ("last-month", "Europe/Berlin", "customer_id", 10),
            }
            for name, (period, tz, group, top) in cases.items():
                span = parse_period(period, NOW, tz)
                seconds, report = timed(lambda: build_report(store, span, group, now=NOW, top=top), repeat)  # noqa: B023
                result[f"{name}_s"] = seconds
                result[f"{name}_total"] = str(report.total.cost_usd)
            span = parse_period("last-month", NOW, "Europe/Berlin")
            t0 = time.perf_counter()
            build_report(store, span, "competitor", now=NOW)
            result["competitor_raw_s"] = time.perf_counter() - t0
        finally:
            store.close()
    finally:
        if admin is not None:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            admin.close()
        elif backend == "sqlite":
            result["file_gb"] = path.stat().st_size / 1e9 if path.exists() else 0
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    return result


def rollup_rows(store: Ledger) -> tuple[int, int]:
    with store._snapshot() as q:
        daily = q("SELECT COUNT(*) FROM genops_daily_spend", ())[0][0]
        hourly = q("SELECT COUNT(*) FROM genops_hourly_spend", ())[0][0]
    return int(daily), int(hourly)


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        (
            "| backend | events | bulk load (s) | rollup rebuild (s) | ingest via Ledger.write (events/s) | last month by team, UTC (ms) "
            "| last month by team, Europe/Berlin (ms) | top 10 customers, Berlin (ms) | by custom attribute, raw scan (ms) "
            "| daily / hourly rollup rows |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['backend']} | {r['events']:,} | {r['bulk_load_s']:.0f} | {r['rebuild_s']:.0f} | {r['ingest_eps']:,.0f} "
            f"| {r['team_utc_s'] * 1000:.0f} | {r['team_berlin_s'] * 1000:.0f} | {r['top10_customers_s'] * 1000:.0f} "
            f"| {r['competitor_raw_s'] * 1000:,.0f} | {r['daily_rows']:,} / {r['hourly_rows']:,} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    parser.add_argument("--ingest", type=int, default=20_000, help="events written through Ledger.write")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "genops-bench")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    results = []
    for n in args.events:
        for backend in args.backends:
            print(f"{backend}, {n:,} events ...", file=sys.stderr)
            results.append(run(backend, n, args.dir, args.ingest, args.repeat))
            print(json.dumps(results[-1]), file=sys.stderr)
    out = table(results)
    print(out)


if __name__ == "__main__":
    main()
