"""The OpenAI integration end to end: the real SDK against the stand-in server, through the
whole pipeline into the ledger and spans."""

from __future__ import annotations

import asyncio
import gc
import logging
from decimal import Decimal

import openai
import pytest
from event_helpers import recorded_events as events
from openai.types.chat import ChatCompletion
from openai.types.create_embedding_response import CreateEmbeddingResponse

from genops import GenOps, track_usage
from genops.providers import openai as genops_openai

MESSAGES = [{"role": "user", "content": "How do I reset my password?"}]


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0)


@pytest.fixture
def aclient(server):
    return openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0)


@pytest.fixture
def rt(genops_runtime, fake_clock):
    return genops_runtime(
        service_name="customer-support-chatbot",
        environment="production",
        attribution={"team": "support", "project": "chatbot"},
    )


def test_chat_is_priced_exactly_and_attributed(rt, client, server, span_exporter):
    server.set_usage(model="gpt-4-turbo", input_tokens=1000, output_tokens=500)
    with GenOps.track(operation="customer_support_query", customer_id="acme"):
        result = client.chat.completions.create(model="gpt-4-turbo", messages=MESSAGES)
    assert type(result) is ChatCompletion
    [event] = events(rt)
    assert (event.provider, event.operation_kind, event.request_model) == ("openai", "chat", "gpt-4-turbo")
    assert (event.usage.input_tokens, event.usage.output_tokens, event.usage.provenance) == (1000, 500, "reported")
    assert event.cost.total == Decimal("0.025")
    assert (event.cost.input, event.cost.output) == (Decimal("0.01"), Decimal("0.015"))
    assert event.cost.source == "genai-prices" and event.cost.version
    a = event.attribution
    assert (a.team, a.project, a.customer_id, a.operation, a.environment) == (
        "support", "chatbot", "acme", "customer_support_query", "production")
    assert event.status == "ok" and event.stream is False

    spans = {s.name: s for s in span_exporter.get_finished_spans()}
    call_span, track_span = spans["chat gpt-4-turbo"], spans["customer_support_query"]
    assert call_span.parent.span_id == track_span.context.span_id
    assert call_span.attributes["genops.team"] == "support"
    assert call_span.attributes["genops.customer_id"] == "acme"
    assert call_span.attributes["genops.cost.total"] == 0.025
    assert call_span.attributes["gen_ai.usage.input_tokens"] == 1000


def test_async_chat_and_embeddings(rt, aclient, server):
    server.set_usage(model="gpt-4-turbo", input_tokens=10, output_tokens=5)
    server.set_usage(model="text-embedding-3-large", input_tokens=8)

    async def main():
        async with GenOps.track(customer_id="globex"):
            r = await aclient.chat.completions.create(model="gpt-4-turbo", messages=MESSAGES)
            e = await aclient.embeddings.create(model="text-embedding-3-large", input="hello world")
        return r, e

    r, e = asyncio.run(main())
    assert type(r) is ChatCompletion and type(e) is CreateEmbeddingResponse
    chat, emb = sorted(events(rt), key=lambda ev: ev.operation_kind)
    assert chat.cost.total == Decimal("0.00025")  # 10 x $10/M + 5 x $30/M
    assert emb.operation_kind == "embeddings"
    assert (emb.usage.input_tokens, emb.usage.output_tokens) == (8, 0)
    assert emb.cost.total == Decimal("0.00000104")  # 8 x $0.13/M
    assert {chat.attribution.customer_id, emb.attribution.customer_id} == {"globex"}


def test_cached_and_reasoning_tokens_are_priced(rt, client, server):
    server.set_usage(model="gpt-4o-mini", input_tokens=1149, output_tokens=353, cached_tokens=1024)
    server.set_usage(model="gpt-5-nano", input_tokens=11, output_tokens=228, reasoning_tokens=192)
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    client.chat.completions.create(model="gpt-5-nano", messages=MESSAGES)
    mini, nano = sorted(events(rt), key=lambda ev: ev.request_model)
    assert mini.usage.cached_input_tokens == 1024
    # 125 uncached x $0.15/M + 1024 cached x $0.075/M + 353 x $0.60/M
    assert mini.cost.total == Decimal("0.00030735")
    assert nano.usage.reasoning_tokens == 192
    assert nano.cost.total == Decimal("0.00009175")  # 11 x $0.05/M + 228 x $0.40/M


def test_stream_with_usage_chunk_is_reported(rt, client, server):
    server.set_usage(model="gpt-4-turbo", input_tokens=1000, output_tokens=500)
    stream = client.chat.completions.create(
        model="gpt-4-turbo", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
    assert isinstance(stream, openai.Stream)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text
    [event] = events(rt)
    assert event.stream and event.usage.provenance == "reported"
    assert event.cost.total == Decimal("0.025")


def test_stream_without_usage_is_estimated_and_flagged(rt, client, server, span_exporter):
    server.set_usage(model="gpt-4-turbo", output_tokens=12)
    chunks = list(client.chat.completions.create(model="gpt-4-turbo", messages=MESSAGES, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    [event] = events(rt)
    assert event.usage.provenance == "estimated"
    assert event.usage.output_tokens == -(-len(text) // 4)
    assert event.usage.input_tokens == 3 + 3 + 7  # framing + one message of 27 chars
    assert event.cost.total == event.usage.input_tokens * Decimal("0.00001") + event.usage.output_tokens * Decimal("0.00003")
    [span] = [s for s in span_exporter.get_finished_spans() if s.name == "chat gpt-4-turbo"]
    assert span.attributes["genops.usage.provenance"] == "estimated"


def test_async_stream(rt, aclient, server):
    server.set_usage(model="gpt-4-turbo", input_tokens=100, output_tokens=50)

    async def main():
        stream = await aclient.chat.completions.create(
            model="gpt-4-turbo", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
        assert isinstance(stream, openai.AsyncStream)
        return [c async for c in stream]

    asyncio.run(main())
    [event] = events(rt)
    assert event.cost.total == Decimal("0.0025")


def test_responses_api_json_and_stream(rt, client, server):
    server.set_usage(model="gpt-4.1-nano", input_tokens=18, output_tokens=79)
    client.responses.create(model="gpt-4.1-nano", input="Tell me a joke")
    for _ in client.responses.create(model="gpt-4.1-nano", input="Tell me a joke", stream=True):
        pass
    plain, streamed = sorted(events(rt), key=lambda ev: ev.stream)
    for ev in (plain, streamed):
        assert ev.operation_kind == "responses"
        assert (ev.usage.input_tokens, ev.usage.output_tokens, ev.usage.provenance) == (18, 79, "reported")
        assert ev.cost.total == Decimal("0.0000334")  # 18 x $0.10/M + 79 x $0.40/M


def test_abandoned_stream_is_still_recorded(rt, client, server):
    server.set_usage(model="gpt-4-turbo", output_tokens=40)
    stream = client.chat.completions.create(model="gpt-4-turbo", messages=MESSAGES, stream=True)
    next(iter(stream))
    stream.close()
    [event] = events(rt)
    assert event.status == "incomplete"
    assert event.usage.provenance == "estimated" and event.cost.total is not None


def test_stream_dropped_by_garbage_collection_is_recorded(rt, client, server):
    stream = client.chat.completions.create(model="gpt-4-turbo", messages=MESSAGES, stream=True)
    next(iter(stream))
    del stream
    gc.collect()
    [event] = events(rt)
    assert event.status == "incomplete"


def test_stream_cut_by_the_server_is_recorded_as_error(rt, client, server):
    server.drop_stream_after(3)
    with pytest.raises(openai.APIConnectionError):
        for _ in client.chat.completions.create(model="gpt-4-turbo", messages=MESSAGES, stream=True):
            pass
    [event] = events(rt)
    assert event.status == "error" and event.error_type == "APIConnectionError"
    assert event.usage.provenance == "estimated"


def test_provider_error_is_recorded_and_reraised_untouched(rt, client, server, span_exporter):
    server.fail_next(status=500)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-4-turbo", messages=MESSAGES)
    [event] = events(rt)
    assert event.status == "error" and event.error_type == "InternalServerError"
    assert event.cost.total is None and event.usage.provenance == "unavailable"
    [span] = [s for s in span_exporter.get_finished_spans() if s.name == "chat gpt-4-turbo"]
    assert span.status.status_code.name == "ERROR"


def test_unknown_model_has_unknown_cost_and_one_warning(rt, client, server, caplog, span_exporter):
    with caplog.at_level(logging.WARNING, logger="genops.pricing"):
        client.chat.completions.create(model="acme-llm-9000", messages=MESSAGES)
        client.chat.completions.create(model="acme-llm-9000", messages=MESSAGES)
    evs = events(rt)
    assert [e.cost.total for e in evs] == [None, None]
    assert [r for r in caplog.records if "acme-llm-9000" in r.getMessage()].__len__() == 1
    span = next(s for s in span_exporter.get_finished_spans() if s.name == "chat acme-llm-9000")
    assert span.attributes["genops.cost.known"] is False


def test_response_without_usage_is_recorded_as_unavailable_not_zero(rt, client, server):
    import httpx

    # A proxy that strips usage: an httpx transport rewriting the stand-in's JSON.
    class StripUsage(httpx.BaseTransport):
        def __init__(self):
            self.inner = httpx.HTTPTransport()

        def handle_request(self, request):
            response = self.inner.handle_request(request)
            response.read()
            import json

            body = json.loads(response.content)
            body.pop("usage", None)
            return httpx.Response(200, json=body)

    stripped = openai.OpenAI(base_url=server.openai_base_url, api_key="sk", max_retries=0,
                             http_client=httpx.Client(transport=StripUsage()))
    stripped.chat.completions.create(model="gpt-4-turbo", messages=MESSAGES)
    [event] = events(rt)
    assert event.usage.provenance == "unavailable"
    assert event.cost.total is None and event.cost.source == "no-usage"


def test_raw_response_is_metered(rt, client, server):
    server.set_usage(model="gpt-4-turbo", input_tokens=1000, output_tokens=500)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4-turbo", messages=MESSAGES)
    assert raw.parse().usage.prompt_tokens == 1000
    [event] = events(rt)
    assert event.cost.total == Decimal("0.025")


def test_embeddings_can_be_left_untracked(genops_runtime, client, server):
    rt = genops_runtime(providers={"openai": {"track_embeddings": False}})
    client.embeddings.create(model="text-embedding-3-large", input="x")
    client.chat.completions.create(model="gpt-4-turbo", messages=MESSAGES)
    assert [e.operation_kind for e in events(rt)] == ["chat"]


def test_instrumenting_twice_is_a_noop_and_shutdown_uninstruments(rt, client, server):
    import openai._base_client as base

    patched = base.SyncAPIClient.__dict__["request"]
    assert genops_openai.instrument(rt.settings) is genops_openai.instrument(rt.settings)
    assert base.SyncAPIClient.__dict__["request"] is patched
    client.chat.completions.create(model="gpt-4-turbo", messages=MESSAGES)
    ledger_events = events(rt)
    GenOps.shutdown()
    assert not hasattr(base.SyncAPIClient.__dict__["request"], "__wrapped__")
    client.chat.completions.create(model="gpt-4-turbo", messages=MESSAGES)  # not governed any more
    assert len(ledger_events) == 1


def test_track_usage_decorator_and_scope_merging(rt, client, server):
    @track_usage(team="sales", region="emea")
    def analyse():
        with GenOps.track(operation="inner", competitor="initech"):
            client.chat.completions.create(model="gpt-4-turbo", messages=MESSAGES)

    analyse()
    [event] = events(rt)
    a = event.attribution
    assert (a.team, a.project, a.operation) == ("sales", "chatbot", "inner")
    assert a.custom == {"region": "emea", "competitor": "initech"}


def test_a_client_used_before_init_is_governed_after_it(genops_runtime, server):
    """Resources keep the bound `post` of their first use; the hook on `request` still sees them."""
    client = openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0)
    client.chat.completions.create(model="gpt-4-turbo", messages=MESSAGES)  # before init
    rt = genops_runtime()
    server.set_usage(model="gpt-4-turbo", input_tokens=1000, output_tokens=500)
    client.chat.completions.create(model="gpt-4-turbo", messages=MESSAGES)
    [event] = events(rt)
    assert event.cost.total == Decimal("0.025")


def test_raw_response_stream_is_metered_when_parsed(rt, client, server):
    """LangChain (include_response_headers) streams through `with_raw_response` and `.parse()`."""
    server.set_usage(model="gpt-4-turbo", input_tokens=1000, output_tokens=500)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4-turbo", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
    assert raw.headers  # still the SDK's raw response
    chunks = list(raw.parse())
    assert chunks
    [event] = events(rt)
    assert (event.status, event.usage.provenance, event.cost.total) == ("ok", "reported", Decimal("0.025"))


def test_async_raw_response_stream_is_metered_when_parsed(rt, aclient, server):
    server.set_usage(model="gpt-4-turbo", input_tokens=100, output_tokens=50)

    async def main():
        raw = await aclient.chat.completions.with_raw_response.create(
            model="gpt-4-turbo", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
        return [c async for c in raw.parse()]

    assert asyncio.run(main())
    [event] = events(rt)
    assert (event.status, event.cost.total) == ("ok", Decimal("0.0025"))
