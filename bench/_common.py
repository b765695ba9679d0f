"""Shared pieces of the overhead benches: a stand-in server in its own process, a no-op span
exporter, a timing loop and percentiles."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult


class DropExporter(SpanExporter):
    """A span exporter that drops everything (the cost of export itself is not measured)."""

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    """Start `python -m genops.testing.server` in its own process (so it does not share this
    process' GIL); returns the process and its base URL once it accepts connections."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "genops.testing.server", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("stand-in server did not start")


WARMUP = 20


def measure(fn: Callable[[], Any], calls: int, settle: Callable[[], Any] | None = None,
            cpu: list[float] | None = None) -> list[float]:  # fmt: skip
    """Wall time per call in microseconds, after a warm-up of WARMUP calls. `settle` runs before and
    after the timed calls (a flush); with `cpu`, the process CPU time per call (background
    threads and the final `settle` included) is appended to it."""
    for _ in range(WARMUP):  # warm up connections and caches
        fn()
    if settle:
        settle()
    out = []
    cpu0 = time.process_time()
    for _ in range(calls):
        t0 = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - t0) / 1000)
    if settle:
        settle()  # count the background work (ledger, spans, metrics) too
    if cpu is not None:
        cpu.append((time.process_time() - cpu0) / calls * 1e6)
    return out


def pct(values: list[float], p: float) -> float:
    """The `p`-th percentile (nearest rank) of `values`."""
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]
