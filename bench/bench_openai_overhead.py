"""Added latency of a governed OpenAI call vs a bare one vs opentelemetry-instrumentation-openai.

The stand-in server runs in a separate process so it does not share this process' GIL. The
three configurations are measured in interleaved rounds in one run, on the same client calls:

  bare     - the OpenAI SDK, nothing installed
  genops   - GenOps.init (attribution, pricing, ledger write, span + 7 metrics, off-thread)
  otel     - OpenAIInstrumentor (traceloop's opentelemetry-instrumentation-openai) with an SDK
             TracerProvider/MeterProvider exporting to a no-op exporter

Run:  python bench/bench_openai_overhead.py [--calls 400] [--rounds 5]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import openai
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult


class DropExporter(SpanExporter):
    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "genops.testing.server", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc, url
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("stand-in server did not start")


CPU: dict[str, list[float]] = {}


def measure(fn: Callable[[], Any], calls: int, name: str = "", settle: Callable[[], Any] | None = None) -> list[float]:
    """Wall time per call (us); also the process CPU time per call, background threads included."""
    for _ in range(20):  # warm up connections and caches
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
    CPU.setdefault(name, []).append((time.process_time() - cpu0) / calls * 1e6)
    return out


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from genops import _runtime
    from genops.config import Settings
    from opentelemetry.instrumentation.openai import OpenAIInstrumentor

    proc, url = start_server()
    tmp = Path(tempfile.mkdtemp())
    try:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-bench", max_retries=0)
        messages = [{"role": "user", "content": "How do I reset my password?"}]

        def call() -> Any:
            return client.chat.completions.create(model="gpt-4-turbo", messages=messages, max_tokens=20)

        otel_tp = TracerProvider()
        otel_tp.add_span_processor(BatchSpanProcessor(DropExporter()))
        otel_mp = MeterProvider(metric_readers=[InMemoryMetricReader()])
        results: dict[str, list[float]] = {"bare": [], "genops": [], "otel": []}
        for _ in range(args.rounds):
            results["bare"] += measure(call, args.calls, "bare")

            settings = Settings.model_validate({
                "service_name": "bench", "environment": "production",
                "attribution": {"team": "support", "project": "chatbot"},
                "storage": {"url": f"sqlite:///{tmp}/ledger.db"}, "exporters": [{"type": "none"}],
            })
            rt = _runtime.start_runtime(settings, span_exporters=[DropExporter()], metric_readers=[InMemoryMetricReader()])
            from genops import GenOps

            with GenOps.track(operation="bench", customer_id="acme"):
                results["genops"] += measure(call, args.calls, "genops", rt.flush)
            rt.flush()
            _runtime.stop_runtime()

            inst = OpenAIInstrumentor()
            inst.instrument(tracer_provider=otel_tp, meter_provider=otel_mp)
            results["otel"] += measure(call, args.calls, "otel", lambda: otel_tp.force_flush())
            inst.uninstrument()

        bare50, bare99 = pct(results["bare"], 50), pct(results["bare"], 99)
        bare_cpu = statistics.median(CPU["bare"])
        print(f"{'config':8} {'p50 us':>9} {'p99 us':>9} {'added p50':>10} {'added p99':>10} {'CPU/call':>9} {'added CPU':>10}")
        for name, values in results.items():
            p50, p99 = pct(values, 50), pct(values, 99)
            cpu = statistics.median(CPU[name])
            print(f"{name:8} {p50:9.0f} {p99:9.0f} {p50 - bare50:10.0f} {p99 - bare99:10.0f} {cpu:9.0f} {cpu - bare_cpu:10.0f}")
        g = pct(results["genops"], 50) - bare50
        o = pct(results["otel"], 50) - bare50
        print(f"\ngenops added / otel-instrumentation added (p50): {g / o:.2f}" if o > 0 else "")
        print(f"calls per config: {len(results['bare'])}, mean bare {statistics.mean(results['bare']):.0f} us")
    finally:
        proc.terminate()
        proc.wait(5)


if __name__ == "__main__":
    main()
