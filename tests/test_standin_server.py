"""The stand-in provider server, exercised through the real OpenAI, Anthropic and Cohere SDKs."""

from __future__ import annotations

import base64
import math
import struct
import subprocess
import sys
from importlib.resources import files
from typing import Any

import anthropic
import cohere
import httpx
import openai
import pytest

from genops.testing import RecordedRequest, StandInServer

DEFAULT_TEXT = (
    "This is a deterministic reply from the GenOps stand-in provider server, "
    "generated for tests and benchmarks without calling real models."
)
USER = [{"role": "user", "content": "hello there friend"}]  # 18 chars -> 5 tokens


@pytest.fixture
def oai(server: StandInServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0)


@pytest.fixture
def claude(server: StandInServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="sk-ant-test", max_retries=0)


@pytest.fixture
def co(server: StandInServer) -> cohere.ClientV2:
    return cohere.ClientV2(base_url=server.cohere_base_url, api_key="co-test", max_retries=0)


# -- OpenAI Chat Completions -------------------------------------------------------------------


def test_chat_default_usage_is_derived_from_the_request(oai: openai.OpenAI) -> None:
    reply = oai.chat.completions.create(model="gpt-4o", messages=USER)

    assert reply.object == "chat.completion"
    assert reply.id.startswith("chatcmpl-")
    assert reply.model == "gpt-4o"
    assert reply.choices[0].message.content == DEFAULT_TEXT
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens, reply.usage.total_tokens) == (5, 20, 25)
    assert reply.usage.prompt_tokens_details.cached_tokens == 0
    assert reply.usage.completion_tokens_details.reasoning_tokens == 0


def test_chat_counts_all_message_text_and_caps_output_at_max_tokens(oai: openai.OpenAI) -> None:
    messages = [
        {"role": "system", "content": "x" * 10},
        {"role": "user", "content": [{"type": "text", "text": "y" * 11}]},
    ]
    reply = oai.chat.completions.create(model="gpt-4o", messages=messages, max_completion_tokens=3)

    assert reply.usage.prompt_tokens == 6  # ceil(21 / 4)
    assert reply.usage.completion_tokens == 3
    assert reply.choices[0].message.content == "This is a"
    assert reply.choices[0].finish_reason == "length"


def test_chat_reports_exact_usage_set_for_the_model(server: StandInServer, oai: openai.OpenAI) -> None:
    server.set_usage(model="gpt-4-turbo", input_tokens=1000, output_tokens=500, cached_tokens=200, reasoning_tokens=100)

    reply = oai.chat.completions.create(model="gpt-4-turbo", messages=USER)
    other = oai.chat.completions.create(model="gpt-4o", messages=USER)

    usage = reply.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (1000, 500, 1500)
    assert usage.prompt_tokens_details.cached_tokens == 200
    assert usage.completion_tokens_details.reasoning_tokens == 100
    assert len(reply.choices[0].message.content.split()) == 400  # reasoning tokens are not visible text
    assert other.usage.prompt_tokens == 5  # the override is per model


def test_default_usage_override_applies_to_models_without_their_own(server: StandInServer, oai: openai.OpenAI) -> None:
    server.set_usage(input_tokens=7, output_tokens=2)
    server.set_usage(model="gpt-4o", input_tokens=9)

    any_model = oai.chat.completions.create(model="some-model", messages=USER).usage
    own = oai.chat.completions.create(model="gpt-4o", messages=USER).usage

    assert (any_model.prompt_tokens, any_model.completion_tokens) == (7, 2)
    assert (own.prompt_tokens, own.completion_tokens) == (9, 20)  # unset fields keep the computed default


async def test_async_chat_reports_exact_usage(server: StandInServer) -> None:
    server.set_usage(model="gpt-4o-mini", input_tokens=1149, output_tokens=315, cached_tokens=1024)
    client = openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0)
    async with client:
        reply = await client.chat.completions.create(model="gpt-4o-mini", messages=USER)

    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (1149, 315)
    assert reply.usage.prompt_tokens_details.cached_tokens == 1024


def test_chat_stream_without_include_usage_sends_no_usage(oai: openai.OpenAI) -> None:
    chunks = list(oai.chat.completions.create(model="gpt-4o", messages=USER, stream=True))

    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert all(c.usage is None and len(c.choices) == 1 for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == DEFAULT_TEXT
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert len({c.id for c in chunks}) == 1


def test_chat_stream_with_include_usage_ends_with_a_usage_chunk(server: StandInServer, oai: openai.OpenAI) -> None:
    server.set_usage(model="gpt-4o", input_tokens=1000, output_tokens=6, cached_tokens=10)

    chunks = list(
        oai.chat.completions.create(model="gpt-4o", messages=USER, stream=True, stream_options={"include_usage": True})
    )

    *content, last = chunks
    assert last.choices == []
    assert (last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.total_tokens) == (1000, 6, 1006)
    assert last.usage.prompt_tokens_details.cached_tokens == 10
    assert all(c.usage is None for c in content)
    assert "".join(c.choices[0].delta.content or "" for c in content) == "This is a deterministic reply from"


async def test_async_chat_stream_with_usage(server: StandInServer) -> None:
    client = openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0)
    async with client:
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=USER, stream=True, stream_options={"include_usage": True}
        )
        chunks = [c async for c in stream]

    assert chunks[-1].usage.prompt_tokens == 5
    assert chunks[-1].usage.completion_tokens == 20


def test_response_model_mapping_answers_with_the_dated_name(server: StandInServer, oai: openai.OpenAI) -> None:
    server.set_response_model("gpt-4o-mini", "gpt-4o-mini-2024-07-18")

    reply = oai.chat.completions.create(model="gpt-4o-mini", messages=USER)
    chunks = list(oai.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True))

    assert reply.model == "gpt-4o-mini-2024-07-18"
    assert {c.model for c in chunks} == {"gpt-4o-mini-2024-07-18"}


# -- OpenAI Embeddings and Responses -------------------------------------------------------------


def test_embeddings_float_are_deterministic_unit_vectors(server: StandInServer, oai: openai.OpenAI) -> None:
    server.set_usage(model="text-embedding-3-small", input_tokens=8)

    first = oai.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta"], encoding_format="float")
    again = oai.embeddings.create(model="text-embedding-3-small", input="alpha", encoding_format="float")

    assert [d.index for d in first.data] == [0, 1]
    assert len(first.data[0].embedding) == 1536
    assert math.isclose(sum(v * v for v in first.data[0].embedding), 1.0, rel_tol=1e-6)
    assert first.data[0].embedding == again.data[0].embedding
    assert first.data[0].embedding != first.data[1].embedding
    assert (first.usage.prompt_tokens, first.usage.total_tokens) == (8, 8)


def test_embeddings_base64_decode_to_the_float_vector(server: StandInServer, oai: openai.OpenAI) -> None:
    as_float = oai.embeddings.create(model="text-embedding-3-small", input="hello world", encoding_format="float")
    raw = oai.embeddings.with_raw_response.create(
        model="text-embedding-3-small", input="hello world", encoding_format="base64", dimensions=256
    )

    body = raw.http_response.json()
    vector = struct.unpack("<256f", base64.b64decode(body["data"][0]["embedding"]))
    assert body["object"] == "list" and body["data"][0]["object"] == "embedding"
    assert body["usage"] == {"prompt_tokens": 3, "total_tokens": 3}  # ceil(11 / 4)
    assert len(as_float.data[0].embedding) == 1536
    assert math.isclose(sum(v * v for v in vector), 1.0, rel_tol=1e-5)
    assert server.requests_for("/embeddings")[-1].json["dimensions"] == 256


def test_responses_api_json_reports_usage_with_reasoning_item(server: StandInServer, oai: openai.OpenAI) -> None:
    server.set_usage(model="o4-mini", input_tokens=120, output_tokens=50, cached_tokens=64, reasoning_tokens=40)

    reply = oai.responses.create(model="o4-mini", input="What is the capital of France?", instructions="Be brief")

    assert reply.object == "response" and reply.status == "completed"
    assert reply.id.startswith("resp_")
    assert reply.instructions == "Be brief"
    assert [item.type for item in reply.output] == ["reasoning", "message"]
    assert reply.output_text == "This is a deterministic reply from the GenOps stand-in provider"
    usage = reply.usage
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (120, 50, 170)
    assert usage.input_tokens_details.cached_tokens == 64
    assert usage.output_tokens_details.reasoning_tokens == 40


def test_responses_api_default_usage_and_max_output_tokens(oai: openai.OpenAI) -> None:
    reply = oai.responses.create(model="gpt-4.1-nano", input="What is the capital of France?", max_output_tokens=16)

    assert reply.usage.input_tokens == 8  # ceil(30 / 4)
    assert reply.usage.output_tokens == 16
    assert reply.status == "incomplete"
    assert reply.incomplete_details.reason == "max_output_tokens"


def test_responses_api_stream_has_usage_only_in_completed_event(server: StandInServer, oai: openai.OpenAI) -> None:
    server.set_usage(model="gpt-4.1-nano", input_tokens=18, output_tokens=4)

    events = list(oai.responses.create(model="gpt-4.1-nano", input="Tell me a story", stream=True))

    types = [e.type for e in events]
    assert types[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert types[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[0].response.usage is None
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == "This is a deterministic"
    final = events[-1].response
    assert (final.usage.input_tokens, final.usage.output_tokens, final.usage.total_tokens) == (18, 4, 22)
    assert final.output_text == "This is a deterministic"


def test_responses_stream_helper_gives_final_usage(oai: openai.OpenAI) -> None:
    with oai.responses.stream(model="gpt-4.1-nano", input="abcdefgh") as stream:
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()

    assert text == DEFAULT_TEXT
    assert (final.usage.input_tokens, final.usage.output_tokens) == (2, 20)


# -- Anthropic -----------------------------------------------------------------------------------


def test_anthropic_message_reports_cache_tokens(server: StandInServer, claude: anthropic.Anthropic) -> None:
    server.set_usage(model="claude-3-5-sonnet-20240620", input_tokens=4, output_tokens=187, cache_creation_tokens=1163)

    message = claude.messages.create(model="claude-3-5-sonnet-20240620", max_tokens=1024, messages=USER)

    assert message.type == "message" and message.role == "assistant"
    assert message.id.startswith("msg_01")
    assert message.model == "claude-3-5-sonnet-20240620"
    assert message.stop_reason == "end_turn"
    usage = message.usage
    assert (usage.input_tokens, usage.output_tokens) == (4, 187)
    assert (usage.cache_creation_input_tokens, usage.cache_read_input_tokens) == (1163, 0)


def test_anthropic_default_usage_counts_system_and_caps_at_max_tokens(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(model="claude-3-haiku-20240307", max_tokens=5, system="s" * 6, messages=USER)

    assert message.usage.input_tokens == 6  # ceil(24 / 4)
    assert message.usage.output_tokens == 5
    assert message.content[0].text == "This is a deterministic reply"
    assert message.stop_reason == "max_tokens"


def test_anthropic_stream_splits_usage_between_start_and_delta(
    server: StandInServer, claude: anthropic.Anthropic
) -> None:
    server.set_usage(model="claude-3-5-sonnet-20240620", input_tokens=4, output_tokens=3, cached_tokens=1165)

    events = list(
        claude.messages.create(model="claude-3-5-sonnet-20240620", max_tokens=1024, messages=USER, stream=True)
    )

    types = [e.type for e in events]
    assert types == ["message_start", "content_block_start"] + ["content_block_delta"] * 3 + [
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start_usage = events[0].message.usage
    assert (start_usage.input_tokens, start_usage.cache_read_input_tokens, start_usage.output_tokens) == (4, 1165, 1)
    assert events[-2].usage.output_tokens == 3
    assert events[-2].usage.input_tokens is None  # the final delta carries only output_tokens


def test_anthropic_stream_helper_accumulates_final_usage(server: StandInServer, claude: anthropic.Anthropic) -> None:
    server.set_usage(input_tokens=4, output_tokens=221, cached_tokens=1165, cache_creation_tokens=0)

    with claude.messages.stream(model="claude-3-5-sonnet-20240620", max_tokens=1024, messages=USER) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()

    assert len(text.split()) == 221
    usage = final.usage
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_input_tokens) == (4, 221, 1165)


def test_anthropic_count_tokens(claude: anthropic.Anthropic) -> None:
    counted = claude.messages.count_tokens(model="claude-3-5-sonnet-20240620", messages=USER)

    assert counted.input_tokens == 5


# -- Cohere v2 -----------------------------------------------------------------------------------


def test_cohere_chat_reports_billed_units_and_larger_raw_tokens(server: StandInServer, co: cohere.ClientV2) -> None:
    server.set_usage(model="command-r", input_tokens=7, output_tokens=88)

    reply = co.chat(model="command-r", messages=USER)

    assert reply.finish_reason == "COMPLETE"
    text = reply.message.content[0].text
    assert text.startswith(DEFAULT_TEXT + " This is") and len(text.split()) == 88
    assert (reply.usage.billed_units.input_tokens, reply.usage.billed_units.output_tokens) == (7, 88)
    assert (reply.usage.tokens.input_tokens, reply.usage.tokens.output_tokens) == (69, 89)


def test_cohere_chat_default_usage(co: cohere.ClientV2) -> None:
    reply = co.chat(model="command-r", messages=USER, max_tokens=2)

    assert (reply.usage.billed_units.input_tokens, reply.usage.billed_units.output_tokens) == (5, 2)
    assert reply.message.content[0].text == "This is"
    assert reply.finish_reason == "MAX_TOKENS"


def test_cohere_chat_stream_parses_sse_and_ends_with_usage(server: StandInServer, co: cohere.ClientV2) -> None:
    server.set_usage(model="command-r", input_tokens=7, output_tokens=109)

    events = list(co.chat_stream(model="command-r", messages=USER))

    assert events[0].type == "message-start" and events[0].id
    assert events[1].type == "content-start"
    text = "".join(e.delta.message.content.text for e in events if e.type == "content-delta")
    assert len(text.split()) == 109
    end = events[-1]
    assert end.type == "message-end" and end.delta.finish_reason == "COMPLETE"
    assert (end.delta.usage.billed_units.input_tokens, end.delta.usage.billed_units.output_tokens) == (7, 109)
    assert (end.delta.usage.tokens.input_tokens, end.delta.usage.tokens.output_tokens) == (69, 110)


def test_cohere_embed_bills_input_tokens(co: cohere.ClientV2) -> None:
    texts = ["Carson City is the capital of Nevada.", "Washington, D.C. is the capital of the United States."]

    reply = co.embed(
        model="embed-english-light-v3.0",
        texts=texts,
        input_type="search_document",
        embedding_types=["float", "int8"],
    )

    assert reply.response_type == "embeddings_by_type"
    assert reply.texts == texts
    assert [len(v) for v in reply.embeddings.float_] == [384, 384]
    assert len(reply.embeddings.int8) == 2
    assert reply.meta.billed_units.input_tokens == 23  # ceil(90 / 4)


def test_cohere_rerank_ranks_by_overlap_and_bills_search_units(server: StandInServer, co: cohere.ClientV2) -> None:
    docs = ["Carson City is in Nevada.", "Washington is the capital of the United States.", "Bismarck"]

    ranked = co.rerank(model="rerank-english-v3.0", query="capital of the United States", documents=docs, top_n=2)
    server.set_usage(model="rerank-english-v3.0", search_units=3)
    billed = co.rerank(model="rerank-english-v3.0", query="capital", documents=docs)

    assert [r.index for r in ranked.results] == [1, 0]
    assert ranked.results[0].relevance_score > ranked.results[1].relevance_score
    assert ranked.meta.billed_units.search_units == 1
    assert billed.meta.billed_units.search_units == 3
    assert len(billed.results) == 3


# -- Injected failures ---------------------------------------------------------------------------


def test_injected_500_and_429_surface_as_openai_exceptions(server: StandInServer, oai: openai.OpenAI) -> None:
    server.fail_next(status=500)
    with pytest.raises(openai.InternalServerError) as server_error:
        oai.chat.completions.create(model="gpt-4o", messages=USER)
    server.fail_next(status=429, retry_after=2)
    with pytest.raises(openai.RateLimitError) as rate_limited:
        oai.chat.completions.create(model="gpt-4o", messages=USER)

    assert server_error.value.body["type"] == "server_error"
    assert rate_limited.value.code == "rate_limit_exceeded"
    assert rate_limited.value.response.headers["retry-after"] == "2"
    assert rate_limited.value.response.headers["retry-after-ms"] == "2000"
    assert oai.chat.completions.create(model="gpt-4o", messages=USER).usage.completion_tokens == 20


def test_sdk_retries_recover_from_an_injected_429(server: StandInServer) -> None:
    server.fail_next(status=429, count=2, retry_after=0.01)
    client = openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=2)

    reply = client.chat.completions.create(model="gpt-4o", messages=USER)

    assert reply.usage.total_tokens == 25
    retry_counts = [r.headers["x-stainless-retry-count"] for r in server.requests_for("/chat/completions")]
    assert retry_counts == ["0", "1", "2"]


def test_failures_match_model_and_path(server: StandInServer, oai: openai.OpenAI) -> None:
    server.fail_next(status=500, model="gpt-4o")
    server.fail_next(status=503, path="/embeddings")

    oai.chat.completions.create(model="gpt-4o-mini", messages=USER)  # other model: not failed
    oai.responses.create(model="gpt-4o-mini", input="hi")  # other path and model: not failed
    with pytest.raises(openai.InternalServerError) as embed_error:
        oai.embeddings.create(model="text-embedding-3-small", input="hi")
    with pytest.raises(openai.InternalServerError) as chat_error:
        oai.chat.completions.create(model="gpt-4o", messages=USER)

    assert embed_error.value.status_code == 503
    assert chat_error.value.status_code == 500
    oai.chat.completions.create(model="gpt-4o", messages=USER)


def test_custom_failure_body_is_sent_verbatim(server: StandInServer, oai: openai.OpenAI) -> None:
    body = {"error": {"message": "quota", "type": "insufficient_quota", "param": None, "code": "insufficient_quota"}}
    server.fail_next(status=429, body=body, count=2)

    for _ in range(2):
        with pytest.raises(openai.RateLimitError) as error:
            oai.chat.completions.create(model="gpt-4o", messages=USER)
        assert error.value.code == "insufficient_quota"


def test_injected_errors_use_anthropic_error_shapes(server: StandInServer, claude: anthropic.Anthropic) -> None:
    server.fail_next(status=500)
    with pytest.raises(anthropic.InternalServerError) as server_error:
        claude.messages.create(model="claude-3-haiku-20240307", max_tokens=10, messages=USER)
    server.fail_next(status=429)
    with pytest.raises(anthropic.RateLimitError) as rate_limited:
        claude.messages.create(model="claude-3-haiku-20240307", max_tokens=10, messages=USER)
    server.fail_next(status=529)
    with pytest.raises(anthropic.OverloadedError):
        claude.messages.create(model="claude-3-haiku-20240307", max_tokens=10, messages=USER)

    assert server_error.value.body == {
        "type": "error",
        "error": {"type": "api_error", "message": "Internal server error"},
    }
    assert rate_limited.value.body["error"]["type"] == "rate_limit_error"
    assert rate_limited.value.response.headers["request-id"].startswith("req_")


def test_injected_errors_surface_as_cohere_exceptions(server: StandInServer, co: cohere.ClientV2) -> None:
    server.fail_next(status=500, path="/v2/chat")
    with pytest.raises(cohere.errors.InternalServerError) as server_error:
        co.chat(model="command-r", messages=USER)
    server.fail_next(status=429, path="/v2/embed")
    with pytest.raises(cohere.errors.TooManyRequestsError):
        co.embed(model="embed-english-v3.0", texts=["x"], input_type="search_query", embedding_types=["float"])

    assert server_error.value.status_code == 500
    assert "message" in server_error.value.body


# -- Dropped streams -----------------------------------------------------------------------------


def test_dropped_openai_stream_raises_and_next_stream_is_whole(server: StandInServer, oai: openai.OpenAI) -> None:
    server.drop_stream_after(3)
    received: list[Any] = []
    with pytest.raises(openai.APIConnectionError):
        received.extend(oai.chat.completions.create(model="gpt-4o", messages=USER, stream=True))

    assert len(received) == 3
    whole = list(oai.chat.completions.create(model="gpt-4o", messages=USER, stream=True))
    assert len(whole) == 22  # role chunk + 20 words + finish chunk


def test_dropped_anthropic_stream_raises(server: StandInServer, claude: anthropic.Anthropic) -> None:
    server.drop_stream_after(2)

    stream = claude.messages.stream(model="claude-3-haiku-20240307", max_tokens=100, messages=USER)
    with pytest.raises(anthropic.APIConnectionError), stream as events:
        events.get_final_message()


def test_dropped_cohere_stream_raises(server: StandInServer, co: cohere.ClientV2) -> None:
    server.drop_stream_after(1)

    with pytest.raises(httpx.RemoteProtocolError):
        list(co.chat_stream(model="command-r", messages=USER))


def test_streams_with_chunk_delay_deliver_every_event(server: StandInServer, oai: openai.OpenAI) -> None:
    server.chunk_delay = 0.001
    server.latency = 0.001

    chunks = list(oai.chat.completions.create(model="gpt-4o", messages=USER, stream=True))

    assert "".join(c.choices[0].delta.content or "" for c in chunks) == DEFAULT_TEXT


# -- Request log, controls, lifecycle ------------------------------------------------------------


def test_requests_are_logged_with_headers_and_json(server: StandInServer, oai: openai.OpenAI) -> None:
    oai.chat.completions.create(model="gpt-4o", messages=USER, user="u-1")
    oai.embeddings.create(model="text-embedding-3-small", input="hi")

    assert [r.path for r in server.requests] == ["/v1/chat/completions", "/v1/embeddings"]
    chat = server.requests_for("/chat/completions")[0]
    assert isinstance(chat, RecordedRequest)
    assert chat.method == "POST"
    assert chat.headers["authorization"] == "Bearer sk-test"
    assert chat.json == {"messages": USER, "model": "gpt-4o", "user": "u-1"}


def test_unknown_path_gets_a_provider_shaped_404(server: StandInServer, oai: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        oai.models.retrieve("gpt-4o")

    assert server.requests[0].path == "/v1/models/gpt-4o"
    assert [m.id for m in oai.models.list()][:2] == ["gpt-4o", "gpt-4o-mini"]


def test_reset_clears_requests_overrides_failures_and_delays(server: StandInServer, oai: openai.OpenAI) -> None:
    server.set_usage(input_tokens=1, output_tokens=1)
    server.set_response_model("gpt-4o", "gpt-4o-2024-08-06")
    server.fail_next(status=500)
    server.drop_stream_after(0)
    server.latency = 0.5
    server.chunk_delay = 0.5

    server.reset()

    assert server.requests == [] and server.latency == 0.0 and server.chunk_delay == 0.0
    reply = oai.chat.completions.create(model="gpt-4o", messages=USER)
    assert (reply.model, reply.usage.prompt_tokens) == ("gpt-4o", 5)
    assert len(list(oai.chat.completions.create(model="gpt-4o", messages=USER, stream=True))) == 22


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.set_usage(input_tokens=-1), "input_tokens"),
        (lambda s: s.fail_next(status=200), "status"),
        (lambda s: s.fail_next(count=0), "count"),
        (lambda s: s.drop_stream_after(-1), "n_chunks"),
        (lambda s: setattr(s, "latency", -0.1), "latency"),
    ],
)
def test_bad_control_values_are_rejected(server: StandInServer, call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(server)


def test_context_manager_serves_and_stops() -> None:
    with StandInServer(port=0) as server:
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0)
        assert client.chat.completions.create(model="gpt-4o", messages=USER).usage.total_tokens == 25
        assert server.anthropic_base_url == server.cohere_base_url == server.base_url
        assert server.openai_base_url == server.base_url + "/v1"

    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="gpt-4o", messages=USER)
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.base_url


def test_module_runs_as_a_subprocess_server() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "genops.testing.server", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        client = anthropic.Anthropic(base_url=url, api_key="sk-ant-test", max_retries=0)
        message = client.messages.create(model="claude-3-haiku-20240307", max_tokens=50, messages=USER)
        assert message.usage.output_tokens == 20
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_recordings_ship_with_their_notice() -> None:
    recordings = files("genops.testing") / "recordings"

    assert "traceloop/openllmetry" in (recordings / "NOTICE").read_text()
    assert "Apache" in (recordings / "NOTICE").read_text()
    assert "openllmetry" in (recordings / "README.md").read_text()
