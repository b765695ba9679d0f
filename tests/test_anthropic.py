"""Anthropic integration: the real SDK against the stand-in server, through the whole pipeline.

Usage figures are those of the recorded responses (`genops/testing/recordings`, README of
`shared/reference/recorded-responses`); costs are worked out by hand from the list prices of
claude-3-5-sonnet: $3 input, $15 output, $0.30 cache read, $3.75 cache write per MTok.
"""

from __future__ import annotations

import json
from decimal import Decimal
from importlib.resources import files
from typing import Any

import anthropic
import anthropic._base_client as anthropic_base
import pytest
from event_helpers import call_span_attributes, only_event, recorded_events
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genops import GenOps, pipeline
from genops.events import Usage
from genops.providers import anthropic as genops_anthropic
from genops.testing import StandInServer
from genops.testing._recorded import sse_events

SONNET = "claude-3-5-sonnet-20240620"
USER = [{"role": "user", "content": "Summarise the attached article."}]


def recording(name: str) -> dict[str, Any]:
    return json.loads((files("genops.testing") / "recordings" / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture
def claude(server: StandInServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="sk-ant-test", max_retries=0)


@pytest.fixture
def aclaude(server: StandInServer) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=server.anthropic_base_url, api_key="sk-ant-test", max_retries=0)


@pytest.fixture
def rt(genops_runtime: Any, fake_clock: Any) -> Any:
    return genops_runtime()


# Recorded figures: anthropic-prompt-caching-1 (cache write) and -2 (cache read).
CACHE_WRITE = {"input_tokens": 4, "cache_creation_tokens": 1163, "output_tokens": 187}
CACHE_WRITE_USAGE = Usage(input_tokens=1167, output_tokens=187, cache_write_tokens=1163)
# 4 x $3 + 1163 x $3.75 + 187 x $15, per MTok
CACHE_WRITE_COST = Decimal("0.000012") + Decimal("0.00436125") + Decimal("0.002805")
CACHE_READ = {"input_tokens": 4, "cached_tokens": 1163, "output_tokens": 202}
CACHE_READ_USAGE = Usage(input_tokens=1167, output_tokens=202, cached_input_tokens=1163)
# 4 x $3 + 1163 x $0.30 + 202 x $15, per MTok
CACHE_READ_COST = Decimal("0.000012") + Decimal("0.0003489") + Decimal("0.00303")


def test_hand_worked_costs() -> None:
    assert CACHE_WRITE_COST == Decimal("0.00717825")
    assert CACHE_READ_COST == Decimal("0.0033909")


# -- usage mapping on the recorded bodies ----------------------------------------------------


def test_recorded_message_usage_follows_the_otel_input_convention(rt: Any) -> None:
    body = recording("anthropic-prompt-caching-1")["response_body"]
    usage = genops_anthropic.usage_from(body["usage"])
    assert usage == CACHE_WRITE_USAGE
    cost = rt.pricer.price("anthropic", body["model"], usage, _now())
    assert cost.total == CACHE_WRITE_COST
    assert cost.output == Decimal("0.002805")


def test_recorded_stream_meter_takes_input_from_start_and_output_from_last_delta() -> None:
    raw = recording("anthropic-prompt-caching-stream-1")["response_body"]
    meter = genops_anthropic._StreamMeter({"messages": USER})
    for _, data in sse_events(raw):
        if isinstance(data, dict) and data.get("type") != "ping":
            meter.on_item(anthropic_event(data))
    usage, model = meter.result()
    assert usage == Usage(input_tokens=4 + 1165, output_tokens=201, cache_write_tokens=1165)
    assert model == SONNET


def anthropic_event(data: dict[str, Any]) -> Any:
    from anthropic._models import construct_type
    from anthropic.types import RawMessageStreamEvent

    return construct_type(type_=RawMessageStreamEvent, value=data)


def _now() -> Any:
    from genops import _clock

    return _clock.now()


# -- messages.create -------------------------------------------------------------------------


def test_create_records_cache_write_tokens_cost_and_attribution(
    rt: Any, claude: anthropic.Anthropic, server: StandInServer, span_exporter: InMemorySpanExporter
) -> None:
    server.set_usage(model=SONNET, **CACHE_WRITE)
    with GenOps.track("summarize", team="team-b", project="docs", customer_id="acme", competitor="globex"):
        reply = claude.messages.create(model=SONNET, max_tokens=1024, messages=USER)

    assert reply.usage.cache_creation_input_tokens == 1163
    event = only_event(rt)
    assert (event.provider, event.operation_kind, event.status, event.stream) == ("anthropic", "chat", "ok", False)
    assert (event.request_model, event.response_model) == (SONNET, SONNET)
    assert event.usage == CACHE_WRITE_USAGE
    assert event.cost.total == Decimal("0.00717825")
    assert event.cost.input == Decimal("0.00437325")
    assert event.cost.output == Decimal("0.002805")
    a = event.attribution
    assert (a.team, a.project, a.customer_id, a.operation) == ("team-b", "docs", "acme", "summarize")
    assert dict(a.custom) == {"competitor": "globex"}

    attrs = call_span_attributes(span_exporter)
    assert attrs["gen_ai.provider.name"] == "anthropic"
    assert attrs["gen_ai.usage.input_tokens"] == 1167
    assert attrs["gen_ai.usage.output_tokens"] == 187
    assert attrs["gen_ai.usage.cache_creation.input_tokens"] == 1163
    assert "gen_ai.usage.cache_read.input_tokens" not in attrs
    assert attrs["genops.cost.total_str"] == "0.00717825"
    assert attrs["genops.team"] == "team-b"
    assert attrs["genops.customer_id"] == "acme"
    assert attrs["genops.competitor"] == "globex"


def test_create_records_cache_read_tokens(rt: Any, claude: anthropic.Anthropic, server: StandInServer) -> None:
    server.set_usage(model=SONNET, **CACHE_READ)
    claude.messages.create(model=SONNET, max_tokens=1024, messages=USER)

    event = only_event(rt)
    assert event.usage == CACHE_READ_USAGE
    assert event.cost.total == Decimal("0.0033909")
    assert event.cost.input == Decimal("0.0003609")


async def test_async_create(rt: Any, aclaude: anthropic.AsyncAnthropic, server: StandInServer) -> None:
    server.set_usage(model=SONNET, **CACHE_READ)
    with GenOps.track(team="team-b", customer_id="initech"):
        await aclaude.messages.create(model=SONNET, max_tokens=1024, messages=USER)

    event = only_event(rt)
    assert event.usage == CACHE_READ_USAGE
    assert event.cost.total == Decimal("0.0033909")
    assert (event.attribution.team, event.attribution.customer_id) == ("team-b", "initech")


def test_with_raw_response(rt: Any, claude: anthropic.Anthropic, server: StandInServer) -> None:
    server.set_usage(model=SONNET, **CACHE_WRITE)
    raw = claude.messages.with_raw_response.create(model=SONNET, max_tokens=1024, messages=USER)
    assert raw.parse().usage.output_tokens == 187
    assert only_event(rt).cost.total == Decimal("0.00717825")


def test_token_counting_is_not_a_governed_call(rt: Any, claude: anthropic.Anthropic) -> None:
    counted = claude.messages.count_tokens(model=SONNET, messages=USER)
    assert counted.input_tokens > 0
    assert recorded_events(rt) == []


# -- streaming -------------------------------------------------------------------------------

# Recorded figures: anthropic-prompt-caching-stream-1 (write) and -stream-2 (read).
STREAM_WRITE = {"input_tokens": 4, "cache_creation_tokens": 1165, "output_tokens": 201}
STREAM_WRITE_COST = Decimal("0.000012") + Decimal("0.00436875") + Decimal("0.003015")  # = 0.00739575
STREAM_READ = {"input_tokens": 4, "cached_tokens": 1165, "output_tokens": 221}
STREAM_READ_COST = Decimal("0.000012") + Decimal("0.0003495") + Decimal("0.003315")  # = 0.0036765


def test_create_stream(rt: Any, claude: anthropic.Anthropic, server: StandInServer) -> None:
    server.set_usage(model=SONNET, **STREAM_WRITE)
    with GenOps.track(team="team-b"):
        stream = claude.messages.create(model=SONNET, max_tokens=1024, messages=USER, stream=True)
    types = [event.type for event in stream]

    assert types[0] == "message_start" and types[-1] == "message_stop"
    event = only_event(rt)
    assert (event.status, event.stream, event.response_model) == ("ok", True, SONNET)
    assert event.usage == Usage(input_tokens=1169, output_tokens=201, cache_write_tokens=1165)
    assert event.cost.total == STREAM_WRITE_COST == Decimal("0.00739575")
    assert event.attribution.team == "team-b"


def test_messages_stream_helper(rt: Any, claude: anthropic.Anthropic, server: StandInServer) -> None:
    server.set_usage(model=SONNET, **STREAM_READ)
    with (
        GenOps.track(team="team-b", customer_id="acme"),
        claude.messages.stream(model=SONNET, max_tokens=1024, messages=USER) as stream,
    ):
        text = "".join(stream.text_stream)
        final = stream.get_final_message()

    assert text and final.usage.output_tokens == 221
    event = only_event(rt)
    assert (event.status, event.stream) == ("ok", True)
    assert event.usage == Usage(input_tokens=1169, output_tokens=221, cached_input_tokens=1165)
    assert event.cost.total == STREAM_READ_COST == Decimal("0.0036765")
    assert event.attribution.customer_id == "acme"


async def test_async_create_stream(rt: Any, aclaude: anthropic.AsyncAnthropic, server: StandInServer) -> None:
    server.set_usage(model=SONNET, **STREAM_WRITE)
    stream = await aclaude.messages.create(model=SONNET, max_tokens=1024, messages=USER, stream=True)
    async for _ in stream:
        pass

    event = only_event(rt)
    assert (event.status, event.stream) == ("ok", True)
    assert event.cost.total == Decimal("0.00739575")


async def test_async_messages_stream_helper(rt: Any, aclaude: anthropic.AsyncAnthropic, server: StandInServer) -> None:
    server.set_usage(model=SONNET, **STREAM_READ)
    with GenOps.track(team="team-b", project="async"):
        async with aclaude.messages.stream(model=SONNET, max_tokens=1024, messages=USER) as stream:
            final = await stream.get_final_message()

    assert final.usage.cache_read_input_tokens == 1165
    event = only_event(rt)
    assert event.usage == Usage(input_tokens=1169, output_tokens=221, cached_input_tokens=1165)
    assert event.cost.total == Decimal("0.0036765")
    assert event.attribution.project == "async"


def test_stream_closed_early_is_incomplete_with_estimated_output(
    rt: Any, claude: anthropic.Anthropic, server: StandInServer
) -> None:
    server.set_usage(model=SONNET, **STREAM_WRITE)
    stream = claude.messages.create(model=SONNET, max_tokens=1024, messages=USER, stream=True)
    seen = [next(stream).type, next(stream).type]
    stream.close()

    assert seen == ["message_start", "content_block_start"]
    event = only_event(rt)
    assert event.status == "incomplete"
    assert event.usage.provenance == "estimated"
    # Input and cache figures came with message_start; the final output count never arrived,
    # so the output is message_start's running count (1).
    assert (event.usage.input_tokens, event.usage.cache_write_tokens, event.usage.output_tokens) == (1169, 1165, 1)
    assert event.cost.total == Decimal("0.000012") + Decimal("0.00436875") + Decimal("0.000015")


# -- errors, policies, configuration ---------------------------------------------------------


def test_provider_error_is_recorded_with_its_type(
    rt: Any, claude: anthropic.Anthropic, server: StandInServer, span_exporter: InMemorySpanExporter
) -> None:
    server.fail_next(status=429)
    with GenOps.track(team="team-b"), pytest.raises(anthropic.RateLimitError):
        claude.messages.create(model=SONNET, max_tokens=1024, messages=USER)

    event = only_event(rt)
    assert (event.status, event.error_type) == ("error", "RateLimitError")
    assert event.cost.total is None and event.cost.source == "failed-call"
    assert event.attribution.team == "team-b"
    assert call_span_attributes(span_exporter)["error.type"] == "RateLimitError"


async def test_async_stream_error_is_recorded(
    rt: Any, aclaude: anthropic.AsyncAnthropic, server: StandInServer
) -> None:
    server.fail_next(status=529)
    with pytest.raises(anthropic.APIStatusError):
        async with aclaude.messages.stream(model=SONNET, max_tokens=1024, messages=USER) as stream:
            await stream.get_final_message()

    event = only_event(rt)
    assert (event.status, event.error_type, event.stream) == ("error", "OverloadedError", True)


FALLBACK_POLICIES = [
    {"name": "no_opus", "type": "model", "blocked": ["claude-3-opus-20240229"]},
    {
        "name": "model_fallback_order",
        "type": "custom",
        "config": {"primary": "claude-3-opus-20240229", "fallback": ["claude-3-haiku-20240307"]},
    },
]


def test_a_substituted_model_is_what_the_provider_is_asked_for(
    genops_runtime: Any, fake_clock: Any, claude: anthropic.Anthropic, server: StandInServer
) -> None:
    rt = genops_runtime(policies=FALLBACK_POLICIES)
    server.set_usage(model="claude-3-haiku-20240307", input_tokens=1000, output_tokens=100)
    claude.messages.create(model="claude-3-opus-20240229", max_tokens=1024, messages=USER)

    assert server.requests_for("/v1/messages")[-1].json["model"] == "claude-3-haiku-20240307"
    event = only_event(rt)
    assert "fallback" in [d.action for d in event.decisions]
    assert (event.request_model, event.substituted_from) == ("claude-3-haiku-20240307", "claude-3-opus-20240229")
    # 1000 x $0.25 + 100 x $1.25 per MTok
    assert event.cost.total == Decimal("0.000375")


def test_a_framework_call_owns_the_sdk_call(rt: Any, claude: anthropic.Anthropic, server: StandInServer) -> None:
    server.set_usage(model=SONNET, **CACHE_WRITE)
    outer = pipeline.start("llamaindex", "chat", SONNET, framework=True)
    claude.messages.create(model=SONNET, max_tokens=1024, messages=USER)
    outer.finish(Usage(provenance="estimated", input_tokens=1, output_tokens=1))

    event = only_event(rt)
    assert event.provider == "anthropic"
    assert event.usage == CACHE_WRITE_USAGE
    assert event.cost.total == Decimal("0.00717825")


def test_auto_instrument_false_leaves_the_sdk_alone(genops_runtime: Any, server: StandInServer) -> None:
    rt = genops_runtime(providers={"anthropic": {"auto_instrument": False}})
    assert isinstance(anthropic_base.SyncAPIClient.__dict__["request"], type(lambda: 0))
    client = anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="sk-ant-test", max_retries=0)
    client.messages.create(model=SONNET, max_tokens=1024, messages=USER)
    assert recorded_events(rt) == []


def test_instrument_is_idempotent_and_reversible(rt: Any) -> None:
    first = genops_anthropic.instrument(rt.settings)
    assert genops_anthropic.instrument(rt.settings) is first
    first.uninstrument()
    assert isinstance(anthropic_base.SyncAPIClient.__dict__["request"], type(lambda: 0))
    assert isinstance(anthropic_base.AsyncAPIClient.__dict__["post"], type(lambda: 0))
