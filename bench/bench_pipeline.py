"""GenOps' own cost per governed call, without any network: what the OpenAI bench's added
latency is made of.

- calling thread: `pipeline.start` + `call.finish` (attribution, pricing, event build, enqueue),
  with the background processor detached so nothing competes for the GIL;
- per event, all threads: the same plus the background work (ledger write, one span, seven
  metric records), as process CPU time after a flush.

Run:  python bench/bench_pipeline.py [--events 20000]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from _common import DropExporter
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from genops import GenOps, _runtime, pipeline
from genops.config import Settings
from genops.events import Usage


def one_call(usage: Usage) -> None:
    call = pipeline.start("openai", "chat", "gpt-4-turbo", max_output_tokens=500)
    call.release()
    call.finish(usage, "gpt-4-turbo-2024-04-09")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20000)
    n = parser.parse_args().events
    tmp = tempfile.mkdtemp()
    settings = Settings.model_validate({
        "service_name": "bench", "environment": "production", "exporters": [{"type": "none"}],
        "attribution": {"team": "support", "project": "chatbot"}, "storage": {"url": f"sqlite:///{tmp}/l.db"},
    })
    usage = Usage(input_tokens=1000, output_tokens=500)

    rt = _runtime.start_runtime(settings, span_exporters=[DropExporter()], metric_readers=[InMemoryMetricReader()])
    with GenOps.track(operation="bench", customer_id="acme"):
        for _ in range(500):
            one_call(usage)
        rt.flush()
        cpu0, t0 = time.process_time(), time.perf_counter()
        for _ in range(n):
            one_call(usage)
        wall = (time.perf_counter() - t0) / n * 1e6
        rt.flush()
        cpu = (time.process_time() - cpu0) / n * 1e6
    _runtime.stop_runtime()

    rt = _runtime.start_runtime(settings)
    rt.processor.submit = lambda event, ctx=None: None  # detach the background half
    with GenOps.track(operation="bench", customer_id="acme"):
        for _ in range(500):
            one_call(usage)
        t0 = time.perf_counter()
        for _ in range(n):
            one_call(usage)
        calling = (time.perf_counter() - t0) / n * 1e6
    _runtime.stop_runtime()

    print(f"events: {n}")
    print(f"calling thread only (no background work):     {calling:7.1f} us/call")
    print(f"all threads, CPU per event (ledger+span+metrics): {cpu:7.1f} us/event")
    print(f"calling thread wall with background running:  {wall:7.1f} us/call (GIL shared, no I/O to overlap)")


if __name__ == "__main__":
    main()
