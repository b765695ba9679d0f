"""Budget enforcement per policy store backend: latency and exactness.

1. reserve+settle: one `reserve` then one `settle` on a budget counter, timed together
   (the store work a BLOCKED budget adds to a governed call), p50 / p99 over `--ops` pairs;
   plus the whole policy engine (`check` + `settle`, i.e. pricing the worst case, reserving,
   settling and the threshold check) for one governed call without a provider.
2. stress: `--processes` x `--threads` callers through the real OpenAI SDK (against an
   in-process stand-in server) on a BLOCKED budget until it refuses them; settled spend vs limit.

Backends: sqlite (ledger file), postgres (127.0.0.1:5432, fresh schema), redis (127.0.0.1:6379
db 13, next to a PostgreSQL ledger). Results are appended to bench/RESULTS.md.

Run:  python bench/bench_budget.py [--ops 2000] [--processes 3] [--threads 4] [--limit 6]
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/13"
RESULTS = Path(__file__).with_name("RESULTS.md")
SECTION = "## Budget enforcement (bench/bench_budget.py)"


class Backends:
    """Fresh storage settings per backend; PostgreSQL schemas are dropped at the end."""

    def __init__(self) -> None:
        import psycopg

        self.admin = psycopg.connect(PG_DSN, autocommit=True)
        self.schemas: list[str] = []
        self.tmp = tempfile.mkdtemp(prefix="genops-bench-")

    def storage(self, backend: str) -> dict[str, str]:
        if backend == "sqlite":
            return {"url": f"sqlite:///{self.tmp}/{secrets.token_hex(4)}.db"}
        name = f"genops_bench_{os.getpid()}_{secrets.token_hex(3)}"
        self.admin.execute(f'CREATE SCHEMA "{name}"')
        self.schemas.append(name)
        ledger = f"{PG_DSN}?options=-csearch_path%3D{name}"
        if backend == "postgres":
            return {"url": ledger}
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()
        return {"url": ledger, "counters_url": REDIS_URL}

    def close(self) -> None:
        for name in self.schemas:
            self.admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        self.admin.close()


def percentiles(samples_ns: list[int]) -> tuple[float, float]:
    ordered = sorted(samples_ns)
    p50 = statistics.median(ordered) / 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1000
    return p50, p99


def store_latency(storage: dict[str, str], ops: int) -> tuple[float, float]:
    from genops.policy.store import CounterKey, open_store

    store = open_store(storage.get("counters_url") or storage["url"])
    now = datetime.now(UTC)
    key = CounterKey("bench", "*", datetime(now.year, now.month, 1, tzinfo=UTC), datetime(now.year + 1, 1, 1, tzinfo=UTC))
    store.init_counter(key, 0)
    limit = 10**18
    for _ in range(50):  # warm connections and statement caches
        store.settle(key, store.reserve(key, 45_000_000, limit, now, 900).reservation_id, 30_000_000, limit, now)
    samples = []
    for _ in range(ops):
        t0 = time.perf_counter_ns()
        result = store.reserve(key, 45_000_000, limit, now, 900)
        store.settle(key, result.reservation_id, 30_000_000, limit, now)
        samples.append(time.perf_counter_ns() - t0)
    store.close()
    return percentiles(samples)


def engine_latency(storage: dict[str, str], ops: int) -> tuple[float, float]:
    """`PolicyEngine.check` + `settle` for one call (the event is priced outside the timing)."""
    from genops import Usage, pipeline
    from genops._runtime import start_runtime, stop_runtime
    from genops.config import Settings
    from genops.policy import stress

    rt = start_runtime(Settings.model_validate(stress.settings_for(storage, Decimal(10**9), "http://unused")))
    engine = rt.policies
    usage = Usage(input_tokens=stress.INPUT_TOKENS, output_tokens=stress.OUTPUT_TOKENS)
    samples = []
    for i in range(ops + 50):
        call = pipeline.Call(rt, "openai", "chat", stress.MODEL, max_output_tokens=stress.OUTPUT_TOKENS,
                             estimate_input=lambda: 7)  # fmt: skip
        t0 = time.perf_counter_ns()
        engine.check(call)
        t1 = time.perf_counter_ns()
        event = _event(call, usage)
        t2 = time.perf_counter_ns()
        engine.settle(call, event)
        t3 = time.perf_counter_ns()
        call.done = True
        call.release()
        if i >= 50:  # warm-up
            samples.append((t1 - t0) + (t3 - t2))
    stop_runtime()
    return percentiles(samples)


def _event(call: Any, usage: Any) -> Any:
    """The event `call.finish` would build (priced), without queueing it for the ledger."""
    from genops.events import UsageEvent

    cost = call.runtime.pricer.price(call.provider, call.model, usage, call.start_time)
    return UsageEvent(id=call.id, start_time=call.start_time, end_time=call.start_time, provider=call.provider,
                      operation_kind=call.operation_kind, request_model=call.model, response_model=None, usage=usage,
                      cost=cost, attribution=call.attribution, latency_ms=0.0)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--limit", type=Decimal, default=Decimal(6))
    parser.add_argument("--backends", default="sqlite,postgres,redis")
    parser.add_argument("--no-write", action="store_true", help="do not append to bench/RESULTS.md")
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    from genops.policy import stress
    from genops.testing import StandInServer

    backends = Backends()
    rows = []
    try:
        with StandInServer() as server:
            server.set_usage(model=stress.MODEL, input_tokens=stress.INPUT_TOKENS, output_tokens=stress.OUTPUT_TOKENS)
            for backend in args.backends.split(","):
                store_p50, store_p99 = store_latency(backends.storage(backend), args.ops)
                engine_p50, engine_p99 = engine_latency(backends.storage(backend), args.ops)
                server.reset()
                server.set_usage(model=stress.MODEL, input_tokens=stress.INPUT_TOKENS, output_tokens=stress.OUTPUT_TOKENS)
                result = stress.run_stress(backends.storage(backend), server.openai_base_url, processes=args.processes,
                                           threads=args.threads, limit=args.limit)  # fmt: skip
                reached = len(server.requests_for("/chat/completions"))
                rows.append((backend, store_p50, store_p99, engine_p50, engine_p99, result, reached))
    finally:
        backends.close()

    table = Table(title=f"Budget enforcement ({args.ops} ops; stress {args.processes} processes x {args.threads} threads)")
    for col in ("backend", "reserve+settle p50 µs", "p99 µs", "engine check+settle p50 µs", "p99 µs",
                "stress calls ok / refused", "settled (ledger)", "limit", "overshoot", "reached server"):  # fmt: skip
        table.add_column(col, justify="right")
    lines = []
    for backend, sp50, sp99, ep50, ep99, r, reached in rows:
        cells = (backend, f"{sp50:.0f}", f"{sp99:.0f}", f"{ep50:.0f}", f"{ep99:.0f}", f"{r.ok} / {r.refused}",
                 f"${r.ledger_spent}", f"${r.limit}", f"${r.overshoot}", f"{reached}")  # fmt: skip
        table.add_row(*cells)
        lines.append("| " + " | ".join(cells) + " |")
    Console(width=200).print(table)
    bad = [r for *_, r, reached in rows if r.overshoot > 0 or r.unexpected or reached != r.ok]
    if not args.no_write:
        _append(args, lines)
    return 1 if bad else 0


def _append(args: argparse.Namespace, lines: list[str]) -> None:
    command = "python bench/bench_budget.py " + " ".join(sys.argv[1:])
    header = ("| backend | reserve+settle p50 µs | p99 µs | engine check+settle p50 µs | p99 µs | stress ok / refused "
              "| settled (ledger) | limit | overshoot | reached server |\n|" + "---|" * 10)  # fmt: skip
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if SECTION not in text:
        text += (f"\n{SECTION}\n\nGoals (issue 3): reserve+settle p50 under 0.3 ms (SQLite), 0.5 ms (Redis), "
                 "1.5 ms (PostgreSQL); overshoot $0.\n")  # fmt: skip
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    entry = (f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} cores "
             f"(load average {load} at the end, shared machine), Python {platform.python_version()}: "
             f"`{command.strip()}`\n\n{header}\n" + "\n".join(lines) + "\n")  # fmt: skip
    start = text.index(SECTION)
    nxt = text.find("\n## ", start + len(SECTION))
    text = text[: nxt if nxt >= 0 else len(text)].rstrip("\n") + "\n" + entry + (text[nxt:] if nxt >= 0 else "")
    RESULTS.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
