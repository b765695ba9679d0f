"""The LiteLLM integration end to end: the real LiteLLM (and the OpenAI SDK it uses for OpenAI
models) against the stand-in server, through the pipeline into the ledger and spans."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from decimal import Decimal

import litellm
import pytest
import wrapt

from genops import GenOps, PolicyViolationError
from genops.events import Attribution
from genops.providers import litellm as genops_litellm
from genops.providers import openai as genops_openai
from genops.providers._litellm_usage import provider_for

litellm.suppress_debug_info = True

MESSAGES = [{"role": "user", "content": "Analyze competitor Acme: pricing page"}]
NO_RETRY = {"max_retries": 0}  # the OpenAI SDK would retry a 500 twice before LiteLLM falls back

# genai-prices list prices (per million tokens): gpt-4-turbo $10/$30, claude-opus-4 $15/$75,
# command-r-plus $2.50/$10, text-embedding-3-small $0.02.


@pytest.fixture(autouse=True)
def providers_env(server, monkeypatch):
    """LiteLLM reaches every provider through the stand-in server (set through the environment,
    so one fallback chain can cross providers)."""
    monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.anthropic_base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("COHERE_API_BASE", f"{server.cohere_base_url}/v2/chat")
    monkeypatch.setenv("COHERE_API_KEY", "co-test")
    monkeypatch.setattr(genops_litellm, "_defaults", Attribution())


@pytest.fixture
def rt(genops_runtime, fake_clock):
    """Team C's setup: GenOps.init, then `auto_instrument(team=..., project=...)`."""
    runtime = genops_runtime(service_name="sales-intelligence", environment="production")
    genops_litellm.auto_instrument(team="sales", project="competitive-intel")
    return runtime


def events(rt, key=None):
    """The stored events (all start at the pinned clock's time: tests order them by `key`)."""
    rt.flush()
    return sorted(rt.ledger.events(), key=key or (lambda e: 0))


def attempt_order(event):
    """Failed or refused attempts before the one that answered."""
    return event.status == "ok"


def chat_spans(span_exporter):
    return [s for s in span_exporter.get_finished_spans() if s.name.startswith(("chat ", "embeddings "))]


def test_case_study_fallback_records_each_attempt(rt, server, span_exporter):
    """Step 3.3 as written: gpt-4-turbo fails (500 on every SDK retry), claude-opus-4 answers."""
    server.fail_next(status=500, count=3, model="gpt-4-turbo")
    server.set_usage(model="claude-opus-4", input_tokens=1000, output_tokens=500)
    competitor = "Acme"
    with GenOps.track(operation="competitor_analysis", competitor=competitor):
        response = litellm.completion(
            model="gpt-4-turbo",
            messages=[{"role": "user", "content": f"Analyze competitor {competitor}: pricing page"}],
            fallbacks=["claude-opus-4", "command-r-plus"],
        )
    assert response.choices[0].message.content
    failed, answered = events(rt, attempt_order)
    assert (failed.provider, failed.request_model, failed.status) == ("openai", "gpt-4-turbo", "error")
    assert failed.error_type == "InternalServerError"
    assert failed.cost.total is None and failed.usage.provenance == "unavailable"
    assert (answered.provider, answered.request_model, answered.status) == ("anthropic", "claude-opus-4", "ok")
    assert (answered.usage.input_tokens, answered.usage.output_tokens, answered.usage.provenance) == (1000, 500, "reported")
    assert answered.cost.total == Decimal("0.0525")  # 1000 x $15/M + 500 x $75/M
    for ev in (failed, answered):
        a = ev.attribution
        assert (a.team, a.project, a.operation, a.environment) == ("sales", "competitive-intel", "competitor_analysis", "production")
        assert a.custom == {"competitor": "Acme"}
    assert [(r.path, r.json["model"]) for r in server.requests] == [("/v1/chat/completions", "gpt-4-turbo")] * 3 + [
        ("/v1/messages", "claude-opus-4")]

    spans = {s.name: s for s in span_exporter.get_finished_spans()}
    track = spans["competitor_analysis"]
    for name, status in (("chat gpt-4-turbo", "error"), ("chat claude-opus-4", "ok")):
        span = spans[name]
        assert span.parent.span_id == track.context.span_id
        assert span.attributes["genops.competitor"] == "Acme"
        assert span.attributes["genops.team"] == "sales"
        assert span.attributes["genops.status"] == status
    assert spans["chat claude-opus-4"].attributes["gen_ai.provider.name"] == "anthropic"
    assert spans["chat claude-opus-4"].attributes["genops.cost.total"] == 0.0525


def test_openai_model_is_counted_once_over_the_instrumented_sdk(rt, server):
    assert genops_openai._instrumentation is not None and genops_openai._instrumentation.active
    server.set_usage(model="gpt-4-turbo", input_tokens=1000, output_tokens=500, cached_tokens=200)
    litellm.completion(model="gpt-4-turbo", messages=MESSAGES)
    [event] = events(rt)
    assert (event.provider, event.operation_kind, event.request_model, event.status) == ("openai", "chat", "gpt-4-turbo", "ok")
    assert (event.usage.input_tokens, event.usage.output_tokens, event.usage.cached_input_tokens) == (1000, 500, 200)
    assert event.cost.total == Decimal("0.025")  # gpt-4-turbo has no cached-input discount
    assert len(server.requests) == 1


def test_anthropic_cache_tokens_are_priced(rt, server):
    server.set_usage(model="claude-opus-4", input_tokens=100, output_tokens=50, cached_tokens=1000, cache_creation_tokens=200)
    litellm.completion(model="anthropic/claude-opus-4", messages=MESSAGES)
    [event] = events(rt)
    assert (event.provider, event.request_model) == ("anthropic", "claude-opus-4")
    u = event.usage
    assert (u.input_tokens, u.cached_input_tokens, u.cache_write_tokens, u.output_tokens) == (1300, 1000, 200, 50)
    # 100 x $15/M + 1000 cache reads x $1.50/M + 200 cache writes x $18.75/M + 50 x $75/M
    assert event.cost.total == Decimal("0.01050")


def test_cohere_is_priced_on_billed_units(rt, server):
    server.set_usage(model="command-r-plus", input_tokens=1000, output_tokens=500)
    response = litellm.completion(model="cohere_chat/command-r-plus", messages=MESSAGES)
    assert response.usage.prompt_tokens > 1000  # LiteLLM reports Cohere's raw tokens (prompt template included)
    [event] = events(rt)
    assert (event.provider, event.request_model) == ("cohere", "command-r-plus")
    assert (event.usage.input_tokens, event.usage.output_tokens, event.usage.provenance) == (1000, 500, "reported")
    assert event.cost.total == Decimal("0.0075")  # 1000 x $2.50/M + 500 x $10/M


def test_async_completion_and_embeddings(rt, server):
    server.set_usage(model="gpt-4-turbo", input_tokens=10, output_tokens=5)
    server.set_usage(model="claude-opus-4", input_tokens=20, output_tokens=10)
    server.set_usage(model="text-embedding-3-small", input_tokens=1000)

    async def main():
        async with GenOps.track(customer_id="globex"):
            await litellm.acompletion(model="gpt-4-turbo", messages=MESSAGES)
            await litellm.acompletion(model="claude-opus-4", messages=MESSAGES)
            await litellm.aembedding(model="text-embedding-3-small", input=["competitor pricing"])

    asyncio.run(main())
    litellm.embedding(model="text-embedding-3-small", input="competitor pricing")
    by_model = {}
    for ev in events(rt):
        by_model.setdefault(ev.request_model, []).append(ev)
    [gpt], [claude] = by_model["gpt-4-turbo"], by_model["claude-opus-4"]
    assert gpt.cost.total == Decimal("0.00025") and gpt.provider == "openai"
    assert claude.cost.total == Decimal("0.00105") and claude.provider == "anthropic"
    assert gpt.attribution.customer_id == claude.attribution.customer_id == "globex"
    embeddings = by_model["text-embedding-3-small"]
    for emb in embeddings:
        assert (emb.provider, emb.operation_kind) == ("openai", "embeddings")
        assert (emb.usage.input_tokens, emb.usage.output_tokens) == (1000, 0)
        assert emb.cost.total == Decimal("0.00002")
    assert sorted(str(e.attribution.customer_id) for e in embeddings) == ["None", "globex"]  # aembedding was in scope
    assert len(server.requests) == 4


@pytest.mark.parametrize("model", ["gpt-4-turbo", "claude-opus-4"])
def test_stream_with_usage_is_reported(rt, server, model):
    server.set_usage(input_tokens=1000, output_tokens=20)
    stream = litellm.completion(model=model, messages=MESSAGES, stream=True, stream_options={"include_usage": True})
    assert isinstance(stream, litellm.CustomStreamWrapper)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text
    [event] = events(rt)
    assert event.stream and event.status == "ok"
    assert (event.usage.input_tokens, event.usage.output_tokens, event.usage.provenance) == (1000, 20, "reported")
    assert len(server.requests) == 1


def test_stream_without_usage_is_estimated_and_flagged(rt, server, span_exporter):
    server.set_usage(model="claude-opus-4", input_tokens=1000, output_tokens=12)
    chunks = list(litellm.completion(model="claude-opus-4", messages=MESSAGES, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    [event] = events(rt)
    assert event.usage.provenance == "estimated"
    assert event.usage.output_tokens == -(-len(text) // 4)
    assert event.usage.input_tokens == 3 + 3 + 10  # framing + one message of 37 characters
    assert event.cost.total == event.usage.input_tokens * Decimal("0.000015") + event.usage.output_tokens * Decimal("0.000075")
    [span] = chat_spans(span_exporter)
    assert span.attributes["genops.usage.provenance"] == "estimated"


def test_async_stream(rt, server):
    server.set_usage(model="gpt-4-turbo", input_tokens=100, output_tokens=50)

    async def main():
        stream = await litellm.acompletion(
            model="gpt-4-turbo", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
        return [c async for c in stream]

    asyncio.run(main())
    [event] = events(rt)
    assert event.stream and event.cost.total == Decimal("0.0025")


def test_async_fallback_chain(rt, server):
    server.fail_next(status=500, model="gpt-4-turbo")
    server.set_usage(model="claude-opus-4", input_tokens=1000, output_tokens=500)

    async def main():
        async with GenOps.track(operation="competitor_analysis", competitor="Globex"):
            return await litellm.acompletion(
                model="gpt-4-turbo", messages=MESSAGES, fallbacks=["claude-opus-4"], **NO_RETRY)

    asyncio.run(main())
    failed, answered = events(rt, attempt_order)
    assert (failed.request_model, failed.status, failed.error_type) == ("gpt-4-turbo", "error", "InternalServerError")
    assert (answered.request_model, answered.status, answered.cost.total) == ("claude-opus-4", "ok", Decimal("0.0525"))
    assert {failed.attribution.custom["competitor"], answered.attribution.custom["competitor"]} == {"Globex"}


def test_sync_fallback_inside_an_event_loop_keeps_attribution(rt, server, span_exporter):
    server.fail_next(status=500, model="gpt-4-turbo")

    async def handler():  # a sync LiteLLM call made from async code (LiteLLM then uses a thread)
        with GenOps.track(operation="competitor_analysis", competitor="Initech"):
            return litellm.completion(model="gpt-4-turbo", messages=MESSAGES, fallbacks=["claude-opus-4"], **NO_RETRY)

    asyncio.run(handler())
    failed, answered = events(rt, attempt_order)
    assert (failed.status, answered.status) == ("error", "ok")
    assert answered.attribution.custom == {"competitor": "Initech"}
    spans = {s.name: s for s in span_exporter.get_finished_spans()}
    assert spans["chat claude-opus-4"].parent.span_id == spans["competitor_analysis"].context.span_id


def test_failed_call_without_fallbacks_is_recorded_and_reraised(rt, server):
    server.fail_next(status=500, model="claude-opus-4")
    with pytest.raises(litellm.InternalServerError):
        litellm.completion(model="claude-opus-4", messages=MESSAGES, **NO_RETRY)
    [event] = events(rt)
    assert (event.provider, event.status, event.error_type) == ("anthropic", "error", "InternalServerError")


def test_router_attempts_are_governed_each(genops_runtime, fake_clock, server):
    rt = genops_runtime(policies=[NO_GPT4])
    genops_litellm.auto_instrument(team="sales")
    server.set_usage(model="claude-opus-4", input_tokens=1000, output_tokens=500)
    router = litellm.Router(model_list=[
        {"model_name": "primary", "litellm_params": {
            "model": "openai/gpt-4-turbo", "api_base": server.openai_base_url, "api_key": "sk-test"}},
        {"model_name": "backup", "litellm_params": {
            "model": "anthropic/claude-opus-4", "api_base": server.anthropic_base_url, "api_key": "sk-ant-test"}},
    ], fallbacks=[{"primary": ["backup"]}], num_retries=0)
    assert router.completion(model="primary", messages=MESSAGES).choices[0].message.content
    blocked, answered = events(rt, attempt_order)
    assert (blocked.provider, blocked.request_model, blocked.status) == ("openai", "gpt-4-turbo", "blocked")
    assert (answered.provider, answered.request_model, answered.cost.total) == ("anthropic", "claude-opus-4", Decimal("0.0525"))
    assert [r.path for r in server.requests] == ["/v1/messages"]
    with pytest.raises(PolicyViolationError):  # the Router passes the refusal on when nothing is left to try
        router.completion(model="primary", messages=MESSAGES, fallbacks=[])


def test_litellm_inside_another_framework_call_is_counted_once(rt, server):
    """LiteLLM under a framework layer GenOps governs (e.g. LangChain's ChatLiteLLM): the outer
    call owns the event; the provider's own figures (Cohere's billed units) still win."""
    from genops import pipeline
    from genops.events import Usage

    server.set_usage(model="command-r-plus", input_tokens=1000, output_tokens=500)
    outer = pipeline.start("cohere", "chat", "command-r-plus", framework=True)
    litellm.completion(model="cohere_chat/command-r-plus", messages=MESSAGES)
    outer.finish(Usage(input_tokens=1, output_tokens=1, provenance="estimated"))
    [event] = events(rt)
    assert (event.usage.input_tokens, event.usage.output_tokens, event.usage.provenance) == (1000, 500, "reported")
    assert event.cost.total == Decimal("0.0075")


# -- policies ----------------------------------------------------------------------------------

NO_GPT4 = {"name": "no_gpt4_for_sales", "type": "model", "blocked": ["gpt-4*"], "teams": ["sales"]}
NO_CLAUDE = {"name": "no_claude", "type": "model", "blocked": ["claude-*"]}


def test_policy_is_checked_per_attempt_and_lets_litellm_fall_back(genops_runtime, fake_clock, server):
    rt = genops_runtime(environment="production", policies=[NO_GPT4])
    genops_litellm.auto_instrument(team="sales", project="competitive-intel")
    server.set_usage(model="claude-opus-4", input_tokens=1000, output_tokens=500)
    litellm.completion(model="gpt-4-turbo", messages=MESSAGES, fallbacks=["claude-opus-4"])
    blocked, answered = events(rt, attempt_order)
    assert (blocked.request_model, blocked.status, blocked.error_type) == ("gpt-4-turbo", "blocked", "PolicyViolationError")
    assert blocked.cost.total == 0
    assert [(d.policy, d.action, d.reason) for d in blocked.decisions] == [("no_gpt4_for_sales", "block", "MODEL_DENIED")]
    assert (answered.request_model, answered.status, answered.cost.total) == ("claude-opus-4", "ok", Decimal("0.0525"))
    assert [r.json["model"] for r in server.requests] == ["claude-opus-4"]  # gpt-4-turbo never reached a provider


def test_every_attempt_refused_raises_policy_violation(genops_runtime, fake_clock, server):
    rt = genops_runtime(policies=[NO_GPT4, NO_CLAUDE])
    genops_litellm.auto_instrument(team="sales")
    with pytest.raises(PolicyViolationError) as info:
        litellm.completion(model="gpt-4-turbo", messages=MESSAGES, fallbacks=["claude-opus-4"])
    assert (info.value.policy, info.value.reason) == ("no_claude", "MODEL_DENIED")
    assert "All fallback attempts failed" in str(info.value.__cause__)
    assert sorted((e.request_model, e.status) for e in events(rt)) == [("claude-opus-4", "blocked"), ("gpt-4-turbo", "blocked")]
    assert server.requests == []

    async def main():
        return await litellm.acompletion(model="gpt-4-turbo", messages=MESSAGES, fallbacks=["claude-opus-4"])

    with pytest.raises(PolicyViolationError):
        asyncio.run(main())
    with pytest.raises(PolicyViolationError):  # no fallbacks: the refusal itself
        litellm.completion(model="claude-opus-4", messages=MESSAGES)
    assert server.requests == []


def test_refusal_then_provider_failure_raises_litellms_error(genops_runtime, fake_clock, server):
    genops_runtime(policies=[NO_GPT4])
    genops_litellm.auto_instrument(team="sales")
    server.fail_next(status=500, model="claude-opus-4")
    with pytest.raises(litellm.APIConnectionError, match="All fallback attempts failed"):
        litellm.completion(model="gpt-4-turbo", messages=MESSAGES, fallbacks=["claude-opus-4"], **NO_RETRY)


# -- attribution and instrumentation -----------------------------------------------------------


def test_attribution_precedence(genops_runtime, fake_clock, server):
    rt = genops_runtime(attribution={"team": "platform", "project": "shared", "customer_id": "internal"})
    litellm.completion(model="gpt-4-turbo", messages=MESSAGES)  # config defaults only
    genops_litellm.auto_instrument(team="sales", project="competitive-intel", region="emea")
    litellm.completion(model="gpt-4-turbo", messages=MESSAGES)  # auto_instrument beats config
    with GenOps.track(project="pricing-watch", region="apac"):
        litellm.completion(model="gpt-4-turbo", messages=MESSAGES)  # a track scope beats both
    plain, instrumented, tracked = events(rt, lambda e: (e.attribution.team != "platform", e.attribution.project))
    assert (plain.attribution.team, plain.attribution.project) == ("platform", "shared")
    a = instrumented.attribution
    assert (a.team, a.project, a.customer_id, a.custom) == ("sales", "competitive-intel", "internal", {"region": "emea"})
    a = tracked.attribution
    assert (a.team, a.project, a.customer_id, a.custom) == ("sales", "pricing-watch", "internal", {"region": "apac"})


def test_instrumentation_is_idempotent_in_either_order(genops_runtime, fake_clock, server):
    GenOps.shutdown()
    assert not isinstance(litellm.completion, wrapt.FunctionWrapper)
    first = genops_litellm.auto_instrument(team="sales")  # before GenOps.init
    assert genops_litellm.auto_instrument(team="sales", project="competitive-intel") is first
    assert isinstance(litellm.completion, wrapt.FunctionWrapper)
    assert not isinstance(litellm.completion.__wrapped__, wrapt.FunctionWrapper)  # patched once
    litellm.completion(model="gpt-4-turbo", messages=MESSAGES)  # no runtime yet: not recorded, not broken
    rt = genops_runtime()
    assert first in rt.instrumentations  # GenOps.init adopted the existing patch
    litellm.completion(model="gpt-4-turbo", messages=MESSAGES)
    [event] = events(rt)
    assert (event.attribution.team, event.attribution.project) == ("sales", "competitive-intel")
    assert genops_litellm.auto_instrument() is first  # after GenOps.init
    GenOps.shutdown()
    assert not isinstance(litellm.completion, wrapt.FunctionWrapper)


def test_config_can_switch_litellm_off(genops_runtime, fake_clock, server):
    GenOps.shutdown()
    genops_runtime(providers={"litellm": {"auto_instrument": False}})
    assert not isinstance(litellm.completion, wrapt.FunctionWrapper)


def test_config_can_leave_embeddings_alone(genops_runtime, fake_clock, server):
    GenOps.shutdown()
    genops_runtime(providers={"litellm": {"auto_instrument": True, "track_embeddings": False}})
    assert isinstance(litellm.completion, wrapt.FunctionWrapper)
    assert not isinstance(litellm.embedding, wrapt.FunctionWrapper)


def test_genops_yaml_instruments_litellm_imported_later(tmp_path, server):
    """`providers: litellm: auto_instrument: true` with GenOps.init before LiteLLM is imported:
    the patch lands on import, so even `from litellm import completion` is governed."""
    config = tmp_path / "genops.yaml"
    config.write_text(textwrap.dedent(f"""\
        genops:
          service_name: "sales-intelligence"
          environment: "production"
          exporters:
            - type: "none"
          storage:
            url: "sqlite:///{tmp_path}/ledger.db"
          providers:
            litellm:
              auto_instrument: true
          attribution:
            team: "sales"
            project: "competitive-intel"
        """))
    script = textwrap.dedent(f"""\
        import sys
        from genops import GenOps
        rt = GenOps.init(config_path={str(config)!r})
        assert "litellm" not in sys.modules
        from litellm import completion
        completion(model="gpt-4-turbo", messages=[{{"role": "user", "content": "hi"}}])
        rt.flush()
        [event] = rt.ledger.events()
        print(event.provider, event.request_model, event.attribution.team, event.cost.total)
        """)
    env = {**os.environ, "OPENAI_BASE_URL": server.openai_base_url, "OPENAI_API_KEY": "sk-test",
           "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    server.set_usage(model="gpt-4-turbo", input_tokens=1000, output_tokens=500)
    out = subprocess.run([sys.executable, "-c", script], check=False, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["openai", "gpt-4-turbo", "sales", "0.025"]


def test_provider_resolution():
    assert provider_for("gpt-4-turbo") == ("openai", "gpt-4-turbo")
    assert provider_for("claude-opus-4") == ("anthropic", "claude-opus-4")
    assert provider_for("cohere_chat/command-r-plus") == ("cohere", "command-r-plus")
    # LiteLLM no longer routes the bare name (Cohere retired it); the price data still knows it.
    assert provider_for("command-r-plus") == ("cohere", "command-r-plus")
    assert provider_for("acme-llm-9000") == ("litellm", "acme-llm-9000")


FALLBACK_ORDER = {"name": "model_fallback_order", "type": "custom",
                  "config": {"primary": "gpt-4-turbo", "fallback": ["claude-opus-4", "cohere-command-r-plus"]}}


def test_model_fallback_order_policy_crosses_providers(genops_runtime, fake_clock, server, span_exporter, caplog):
    """The case study's `model_fallback_order`: a refused gpt-4-turbo is sent to claude-opus-4
    instead of failing (LiteLLM can route to any provider); the substitution is recorded."""
    rt = genops_runtime(policies=[NO_GPT4, FALLBACK_ORDER])
    genops_litellm.auto_instrument(team="sales", project="competitive-intel")
    server.set_usage(model="claude-opus-4", input_tokens=1000, output_tokens=500)
    response = litellm.completion(model="gpt-4-turbo", messages=MESSAGES)
    assert response.choices[0].message.content
    [event] = events(rt)
    assert (event.provider, event.request_model, event.substituted_from) == ("anthropic", "claude-opus-4", "gpt-4-turbo")
    assert (event.status, event.cost.total) == ("ok", Decimal("0.0525"))
    assert [(d.policy, d.action) for d in event.decisions][-1] == ("model_fallback_order", "fallback")
    assert [(r.path, r.json["model"]) for r in server.requests] == [("/v1/messages", "claude-opus-4")]
    [span] = chat_spans(span_exporter)
    assert span.attributes["genops.model.substituted_from"] == "gpt-4-turbo"
    assert [r.getMessage() for r in caplog.records if r.name.startswith("genops")] == []
