"""Added latency per integration: each library's call bare vs governed, side by side in one run.

The stand-in server runs in a separate process (`python -m genops.testing.server --port N`), so
it does not share this process' GIL. For every integration, bare and governed calls are
measured in interleaved rounds on the same client objects:

  bare     - the library alone, GenOps not running
  genops   - GenOps runtime started (attribution, policy check, pricing, ledger write, span and
             metrics off-thread) inside a `GenOps.track` scope; plus the integration's own
             entry point where the case study uses one (LangChain's GenOpsCallbackHandler,
             LlamaIndex's set_global_handler("genops"))

Integrations (one call each; the OpenAI SDK as the reference, see bench_openai_overhead.py):
  openai      openai.OpenAI().chat.completions.create(gpt-4-turbo)
  anthropic   anthropic.Anthropic().messages.create(claude-opus-4)
  cohere      cohere.ClientV2().chat(command-r-plus) and .embed(embed-english-v3.0)
  litellm     litellm.completion(claude-opus-4)       (LiteLLM's own HTTP client)
  langchain   ChatOpenAI(gpt-4-turbo).invoke          (over the OpenAI SDK: one event)
  llamaindex  llama_index Anthropic(claude-opus-4-0).complete  (over the Anthropic SDK: one event;
              the class from examples/team_b_django/search/llm.py, fixed for anthropic 2.x)

Run:  python bench/bench_integrations.py [--calls 200] [--rounds 5] [--gap-ms 0,5] [--only anthropic,cohere]

Back-to-back calls show the worst case (the background thread's ledger/span/metrics work for one
call competes for the GIL and the 2 cores with the next call); with a few milliseconds of idle
time between calls (an application's own work) that work is off the critical path.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_openai_overhead import DropExporter, pct, start_server

MESSAGES = [{"role": "user", "content": "How do I reset my password?"}]


Factory = Callable[[str, bool], Callable[[], Any]]
CPU: dict[str, list[float]] = {}


def measure(fn: Callable[[], Any], calls: int, name: str, gap: float, settle: Callable[[], Any] | None = None) -> list[float]:
    """Wall time per call (us), `gap` seconds of idle before each; also the process CPU time per
    call, background threads included (the idle gaps cost none)."""
    for _ in range(20):  # warm up connections and caches
        fn()
    if settle:
        settle()
    out = []
    cpu0 = time.process_time()
    for _ in range(calls):
        if gap:
            time.sleep(gap)
        t0 = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - t0) / 1000)
    if settle:
        settle()  # count the background work (ledger, spans, metrics) too
    CPU.setdefault(name, []).append((time.process_time() - cpu0) / calls * 1e6)
    return out


def openai_call(url: str, governed: bool) -> Callable[[], Any]:
    import openai

    client = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-bench", max_retries=0)
    return lambda: client.chat.completions.create(model="gpt-4-turbo", messages=MESSAGES, max_tokens=20)


def anthropic_call(url: str, governed: bool) -> Callable[[], Any]:
    import anthropic

    claude = anthropic.Anthropic(base_url=url, api_key="sk-ant-bench", max_retries=0)
    return lambda: claude.messages.create(model="claude-opus-4", max_tokens=20, messages=MESSAGES)


def cohere_chat_call(url: str, governed: bool) -> Callable[[], Any]:
    import cohere

    co = cohere.ClientV2(api_key="co-bench", base_url=url)
    return lambda: co.chat(model="command-r-plus", messages=MESSAGES)


def cohere_embed_call(url: str, governed: bool) -> Callable[[], Any]:
    import cohere

    co = cohere.ClientV2(api_key="co-bench", base_url=url)
    return lambda: co.embed(model="embed-english-v3.0", texts=["reset password"], input_type="search_query",
                            embedding_types=["float"])


def litellm_call(url: str, governed: bool) -> Callable[[], Any]:
    import litellm

    litellm.suppress_debug_info = True
    return lambda: litellm.completion(model="claude-opus-4", messages=MESSAGES, max_tokens=20, api_base=url,
                                      num_retries=0)


def langchain_call(url: str, governed: bool) -> Callable[[], Any]:
    from langchain_openai import ChatOpenAI

    from genops.providers.langchain import GenOpsCallbackHandler

    chat = ChatOpenAI(model="gpt-4-turbo", base_url=f"{url}/v1", api_key="sk-bench", max_retries=0, max_tokens=20)
    config = {"callbacks": [GenOpsCallbackHandler(team="support", project="chatbot", customer_id="acme")]}
    if not governed:
        return lambda: chat.invoke("How do I reset my password?")
    return lambda: chat.invoke("How do I reset my password?", config=config)


def llamaindex_call(url: str, governed: bool) -> Callable[[], Any]:
    from llama_index.core import set_global_handler

    # llama_index.llms.anthropic.Anthropic with Team B's fix for anthropic 2.x (see its module).
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples" / "team_b_django"))
    from search.llm import Anthropic

    if governed:
        set_global_handler("genops")
    llm = Anthropic(model="claude-opus-4-0", base_url=url, api_key="sk-ant-bench", max_retries=0, max_tokens=20)
    return lambda: llm.complete("How do I reset my password?")


# Each phase builds its own client objects (after GenOps started, for the governed one), as an
# application does when it follows "GenOps.init before creating clients".
INTEGRATIONS: dict[str, Factory] = {
    "openai (reference)": openai_call,
    "anthropic": anthropic_call,
    "cohere chat": cohere_chat_call,
    "cohere embed": cohere_embed_call,
    "litellm": litellm_call,
    "langchain": langchain_call,
    "llamaindex": llamaindex_call,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default="", help="comma-separated integration names (default: all)")
    parser.add_argument("--gap-ms", default="0,5",
                        help="idle time before each call, one table per value (0: back to back)")
    args = parser.parse_args()

    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from genops import GenOps, _runtime
    from genops.config import Settings

    proc, url = start_server()
    tmp = Path(tempfile.mkdtemp())
    try:
        os.environ.update(
            OPENAI_API_KEY="sk-bench", ANTHROPIC_API_KEY="sk-ant-bench", COHERE_API_KEY="co-bench",
            LITELLM_LOCAL_MODEL_COST_MAP="True",
        )
        calls = INTEGRATIONS
        if args.only:
            wanted = {n.strip() for n in args.only.split(",")}
            calls = {k: v for k, v in calls.items() if k in wanted or k.split()[0] in wanted}
        gaps = [float(g) / 1000 for g in args.gap_ms.split(",")]
        results = {(name, gap): {"bare": [], "genops": []} for gap in gaps for name in calls}
        for _ in range(args.rounds):
            for gap in gaps:
                for name, factory in calls.items():
                    r = results[(name, gap)]
                    r["bare"] += measure(factory(url, False), args.calls, f"{name}/{gap}/bare", gap)
                    settings = Settings.model_validate({
                        "service_name": "bench", "environment": "production",
                        "attribution": {"team": "support", "project": "chatbot"},
                        "storage": {"url": f"sqlite:///{tmp}/ledger.db"}, "exporters": [{"type": "none"}],
                    })
                    rt = _runtime.start_runtime(settings, span_exporters=[DropExporter()],
                                                metric_readers=[InMemoryMetricReader()])
                    governed = factory(url, True)
                    with GenOps.track(operation="bench", customer_id="acme"):
                        r["genops"] += measure(governed, args.calls, f"{name}/{gap}/genops", gap, rt.flush)
                    rt.flush()
                    _runtime.stop_runtime()

        print(f"{args.rounds} rounds x {args.calls} calls per configuration; times in microseconds")
        for gap in gaps:
            print(f"\n{'back to back' if not gap else f'{gap * 1000:g} ms idle before each call'}:\n")
            print("| integration | bare p50 | genops p50 | added p50 | bare p99 | genops p99 | added p99 | added CPU/call |")
            print("|---|---:|---:|---:|---:|---:|---:|---:|")
            for name in calls:
                r = results[(name, gap)]
                b50, g50 = pct(r["bare"], 50), pct(r["genops"], 50)
                b99, g99 = pct(r["bare"], 99), pct(r["genops"], 99)
                cpu = statistics.median(CPU[f"{name}/{gap}/genops"]) - statistics.median(CPU[f"{name}/{gap}/bare"])
                print(f"| {name} | {b50:.0f} | {g50:.0f} | {g50 - b50:.0f} | {b99:.0f} | {g99:.0f} | {g99 - b99:.0f} | {cpu:.0f} |")
        from collections import Counter

        from genops.ledger import open_ledger

        with open_ledger(f"sqlite:///{tmp}/ledger.db") as ledger:
            counts = Counter(f"{e.provider} {e.operation_kind} {e.request_model}" for e in ledger.events())
        per_integration = len(gaps) * args.rounds * (args.calls + 20)  # warm-up calls are governed too
        print(f"\nledger events (expected {per_integration} per integration: one per governed call; "
              "anthropic and litellm both call claude-opus-4, openai and langchain gpt-4-turbo):")
        for key, n in sorted(counts.items()):
            print(f"  {key}: {n}")
    finally:
        proc.terminate()
        proc.wait(5)


if __name__ == "__main__":
    main()
