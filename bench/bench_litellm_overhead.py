"""Added latency of a governed `litellm.completion` vs a bare one, against the same stand-in server.

The stand-in server runs in a separate process (`python -m genops.testing.server`). Bare and
governed calls are measured in interleaved rounds in one run, for two LiteLLM paths:

  gpt-4-turbo    - LiteLLM over the OpenAI SDK (GenOps' LiteLLM call owns the nested SDK call)
  claude-opus-4  - LiteLLM's own HTTP client (no SDK layer below)

  bare    - LiteLLM, GenOps not started (no patches)
  genops  - GenOps runtime with the LiteLLM and OpenAI integrations, inside a GenOps.track scope
            (attribution, pricing, ledger write, span + metrics, off-thread)

Run:  python bench/bench_litellm_overhead.py [--calls 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # LiteLLM must not fetch its price map

import litellm
from _common import DropExporter, measure, pct, start_server
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

litellm.suppress_debug_info = True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from genops import GenOps, _runtime
    from genops.config import Settings
    from genops.providers import litellm as genops_litellm

    proc, url = start_server()
    tmp = Path(tempfile.mkdtemp())
    messages = [{"role": "user", "content": "Analyze competitor Acme: pricing page"}]
    targets = {
        "gpt-4-turbo": {"model": "gpt-4-turbo", "api_base": f"{url}/v1", "api_key": "sk-bench", "max_retries": 0},
        "claude-opus-4": {"model": "claude-opus-4", "api_base": url, "api_key": "sk-ant-bench"},
    }
    results: dict[tuple[str, str], list[float]] = {}
    try:
        for _ in range(args.rounds):
            for name, target in targets.items():
                def call(target: dict[str, Any] = target) -> Any:
                    return litellm.completion(messages=messages, max_tokens=20, **target)

                results.setdefault((name, "bare"), []).extend(measure(call, args.calls))

                settings = Settings.model_validate({
                    "service_name": "sales-intelligence", "environment": "production",
                    "storage": {"url": f"sqlite:///{tmp}/ledger.db"}, "exporters": [{"type": "none"}],
                })
                rt = _runtime.start_runtime(settings, span_exporters=[DropExporter()], metric_readers=[InMemoryMetricReader()])
                genops_litellm.auto_instrument(team="sales", project="competitive-intel")
                with GenOps.track(operation="competitor_analysis", competitor="Acme"):
                    results.setdefault((name, "genops"), []).extend(measure(call, args.calls, rt.flush))
                rt.flush()
                stored = sum(1 for _ in rt.ledger.events())
                _runtime.stop_runtime()
                assert stored >= args.calls, f"expected every governed call in the ledger, found {stored}"

        print(f"{'model':14} {'bare p50':>9} {'genops p50':>11} {'added p50':>10} {'bare p99':>9} {'genops p99':>11} {'added p99':>10}  (us)")
        for name in targets:
            bare, gov = results[(name, "bare")], results[(name, "genops")]
            b50, g50, b99, g99 = pct(bare, 50), pct(gov, 50), pct(bare, 99), pct(gov, 99)
            print(f"{name:14} {b50:9.0f} {g50:11.0f} {g50 - b50:10.0f} {b99:9.0f} {g99:11.0f} {g99 - b99:10.0f}")
        n = len(results[(next(iter(targets)), "bare")])
        print(f"\ncalls per model and config: {n} ({args.rounds} interleaved rounds); "
              f"mean bare gpt-4-turbo {statistics.mean(results[('gpt-4-turbo', 'bare')]):.0f} us")
    finally:
        proc.terminate()
        proc.wait(5)


if __name__ == "__main__":
    main()
