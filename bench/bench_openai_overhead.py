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
import statistics
import tempfile
from pathlib import Path
from typing import Any

import openai
from _common import WARMUP, DropExporter, measure, pct, start_server  # bench_integrations imports these from here
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

CPU: dict[str, list[float]] = {}  # process CPU time per call, per configuration


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from opentelemetry.instrumentation.openai import OpenAIInstrumentor

    from genops import _runtime
    from genops.config import Settings

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
            results["bare"] += measure(call, args.calls, cpu=CPU.setdefault("bare", []))

            settings = Settings.model_validate({
                "service_name": "bench", "environment": "production",
                "attribution": {"team": "support", "project": "chatbot"},
                "storage": {"url": f"sqlite:///{tmp}/ledger.db"}, "exporters": [{"type": "none"}],
            })
            rt = _runtime.start_runtime(settings, span_exporters=[DropExporter()], metric_readers=[InMemoryMetricReader()])
            from genops import GenOps

            before = rt.ledger.count()
            with GenOps.track(operation="bench", customer_id="acme"):
                results["genops"] += measure(call, args.calls, rt.flush, CPU.setdefault("genops", []))
            rt.flush()
            governed = rt.ledger.count() - before
            _runtime.stop_runtime()
            if governed != args.calls + WARMUP:  # every governed call must have left exactly one event
                raise SystemExit(f"GenOps recorded {governed} events for {args.calls + WARMUP} calls")

            inst = OpenAIInstrumentor()
            inst.instrument(tracer_provider=otel_tp, meter_provider=otel_mp)
            results["otel"] += measure(call, args.calls, lambda: otel_tp.force_flush(), CPU.setdefault("otel", []))
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
