"""Cohere v2 integration: the real SDK (`ClientV2`, `AsyncClientV2`) against the stand-in server.

Billed units are what is recorded and priced (the stand-in reports larger `tokens` figures, as
Cohere does, so pricing from the wrong field would show). Usage figures are those of the
recorded responses (`genops/testing/recordings`). Costs worked out by hand: `command` $1 input,
$2 output per MTok (genai-prices); Embed 3 $0.10 per MTok and Rerank 3/3.5 $2 per 1,000 search
units (GenOps' supplement).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import cohere
import pytest
from event_helpers import call_span_attributes, only_event, recorded_events
from genai_prices import data_snapshot
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genops import GenOps
from genops.events import Usage
from genops.pricing import PriceOverride, Pricer, supplement
from genops.providers import cohere as genops_cohere
from genops.testing import StandInServer

USER = [{"role": "user", "content": "Which of our plans includes SSO?"}]
DOCS = ["SSO is in the enterprise plan.", "The team plan has SAML.", "Pricing is per seat."]
NO_RETRY: Any = {"max_retries": 0}


@pytest.fixture
def co(server: StandInServer) -> cohere.ClientV2:
    return cohere.ClientV2(base_url=server.cohere_base_url, api_key="co-test", max_retries=0)


@pytest.fixture
def aco(server: StandInServer) -> cohere.AsyncClientV2:
    return cohere.AsyncClientV2(base_url=server.cohere_base_url, api_key="co-test", max_retries=0)


@pytest.fixture
def rt(genops_runtime: Any, fake_clock: Any) -> Any:
    return genops_runtime()


# -- chat --------------------------------------------------------------------------------------

# cohere-v2-chat-1: billed 7 in / 88 out (tokens: 69 / 89). 7 x $1 + 88 x $2 per MTok.
CHAT_COST = Decimal("0.000007") + Decimal("0.000176")


def test_chat_is_priced_on_billed_units_with_attribution(
    rt: Any, co: cohere.ClientV2, server: StandInServer, span_exporter: InMemorySpanExporter
) -> None:
    server.set_usage(model="command", input_tokens=7, output_tokens=88)
    with GenOps.track("support_query", team="team-b", project="kb", customer_id="acme", competitor="globex"):
        reply = co.chat(model="command", messages=USER)

    assert (reply.usage.tokens.input_tokens, reply.usage.billed_units.input_tokens) == (69, 7)
    event = only_event(rt)
    assert (event.provider, event.operation_kind, event.status, event.stream) == ("cohere", "chat", "ok", False)
    assert event.request_model == "command"
    assert event.usage == Usage(input_tokens=7, output_tokens=88)
    assert event.cost.total == CHAT_COST == Decimal("0.000183")
    a = event.attribution
    assert (a.team, a.project, a.customer_id, a.operation) == ("team-b", "kb", "acme", "support_query")
    assert dict(a.custom) == {"competitor": "globex"}

    attrs = call_span_attributes(span_exporter)
    assert attrs["gen_ai.provider.name"] == "cohere"
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (7, 88)
    assert attrs["genops.cost.total_str"] == "0.000183"
    assert attrs["genops.customer_id"] == "acme"


async def test_async_chat(rt: Any, aco: cohere.AsyncClientV2, server: StandInServer) -> None:
    server.set_usage(model="command", input_tokens=7, output_tokens=88)
    with GenOps.track(team="team-b"):
        await aco.chat(model="command", messages=USER)

    event = only_event(rt)
    assert event.usage == Usage(input_tokens=7, output_tokens=88)
    assert event.cost.total == Decimal("0.000183")
    assert event.attribution.team == "team-b"


def test_v2_namespace_of_the_v1_client_is_governed(rt: Any, server: StandInServer) -> None:
    server.set_usage(model="command", input_tokens=7, output_tokens=88)
    client = cohere.Client(base_url=server.cohere_base_url, api_key="co-test", max_retries=0)
    client.v2.chat(model="command", messages=USER)
    assert only_event(rt).cost.total == Decimal("0.000183")


# cohere-v2-chat-streaming-1: billed 7 in / 109 out. 7 x $1 + 109 x $2 per MTok.
STREAM_COST = Decimal("0.000007") + Decimal("0.000218")


def test_chat_stream(rt: Any, co: cohere.ClientV2, server: StandInServer) -> None:
    server.set_usage(model="command", input_tokens=7, output_tokens=109)
    with GenOps.track(team="team-b", customer_id="acme"):
        kinds = [event.type for event in co.chat_stream(model="command", messages=USER)]

    assert kinds[0] == "message-start" and kinds[-1] == "message-end"
    event = only_event(rt)
    assert (event.status, event.stream) == ("ok", True)
    assert event.usage == Usage(input_tokens=7, output_tokens=109)
    assert event.cost.total == STREAM_COST == Decimal("0.000225")
    assert event.attribution.customer_id == "acme"


async def test_async_chat_stream(rt: Any, aco: cohere.AsyncClientV2, server: StandInServer) -> None:
    server.set_usage(model="command", input_tokens=7, output_tokens=109)
    with GenOps.track(team="team-b"):
        async for _ in aco.chat_stream(model="command", messages=USER):
            pass

    event = only_event(rt)
    assert (event.status, event.stream) == ("ok", True)
    assert event.cost.total == Decimal("0.000225")
    assert event.attribution.team == "team-b"


def test_chat_stream_left_early_is_incomplete(rt: Any, co: cohere.ClientV2, server: StandInServer) -> None:
    server.set_usage(model="command", input_tokens=7, output_tokens=109)
    stream = co.chat_stream(model="command", messages=USER)
    first = [next(stream).type, next(stream).type, next(stream).type]
    stream.close()

    assert first == ["message-start", "content-start", "content-delta"]
    event = only_event(rt)
    assert (event.status, event.stream) == ("incomplete", True)
    assert event.usage.provenance == "estimated"
    # USER is 32 characters: 3 + 3 + ceil(32 / 4) input tokens; one streamed word ("This") = 1 token.
    assert (event.usage.input_tokens, event.usage.output_tokens) == (14, 1)


# -- embed -------------------------------------------------------------------------------------


def test_embed_is_priced_from_the_supplement(
    rt: Any, co: cohere.ClientV2, server: StandInServer, span_exporter: InMemorySpanExporter
) -> None:
    # cohere-v2-embed-1: embed-english-light-v3.0, 208 billed input tokens. 208 x $0.10 per MTok.
    server.set_usage(model="embed-english-light-v3.0", input_tokens=208)
    with GenOps.track(team="team-b", project="kb"):
        co.embed(model="embed-english-light-v3.0", texts=DOCS, input_type="search_document", embedding_types=["float"])

    event = only_event(rt)
    assert (event.operation_kind, event.request_model) == ("embeddings", "embed-english-light-v3.0")
    assert event.usage == Usage(input_tokens=208, output_tokens=0)
    assert event.cost.total == Decimal("0.0000208")
    assert event.cost.source == "genops-supplement"
    assert call_span_attributes(span_exporter)["genops.price.source"] == "genops-supplement"


async def test_async_embed_of_the_case_study_model(rt: Any, aco: cohere.AsyncClientV2, server: StandInServer) -> None:
    server.set_usage(model="embed-english-v3.0", input_tokens=1000)
    await aco.embed(model="embed-english-v3.0", texts=DOCS, input_type="search_query", embedding_types=["float"])

    event = only_event(rt)
    assert event.usage == Usage(input_tokens=1000, output_tokens=0)
    assert event.cost.total == Decimal("0.0001")  # 1000 x $0.10 per MTok


def test_a_config_override_wins_over_the_supplement(
    genops_runtime: Any, fake_clock: Any, server: StandInServer
) -> None:
    rt = genops_runtime(
        pricing={"overrides": [{"model": "embed-english-v3.0", "provider": "cohere", "input_per_million": "0.05"}]}
    )
    client = cohere.ClientV2(base_url=server.cohere_base_url, api_key="co-test", max_retries=0)
    server.set_usage(model="embed-english-v3.0", input_tokens=208)
    client.embed(model="embed-english-v3.0", texts=DOCS, input_type="search_document", embedding_types=["float"])

    event = only_event(rt)
    assert event.cost.source == "override"
    assert event.cost.total == Decimal("0.0000104")  # 208 x $0.05 per MTok


def test_track_embeddings_false_skips_embed_only(genops_runtime: Any, server: StandInServer) -> None:
    rt = genops_runtime(providers={"cohere": {"track_embeddings": False}})
    client = cohere.ClientV2(base_url=server.cohere_base_url, api_key="co-test", max_retries=0)
    client.embed(model="embed-english-v3.0", texts=DOCS, input_type="search_document", embedding_types=["float"])
    client.chat(model="command", messages=USER)

    assert [e.operation_kind for e in recorded_events(rt)] == ["chat"]


# -- rerank ------------------------------------------------------------------------------------


def test_rerank_is_priced_on_search_units(
    rt: Any, co: cohere.ClientV2, server: StandInServer, span_exporter: InMemorySpanExporter
) -> None:
    # cohere-v2-rerank-1: rerank-english-v3.0, 1 search unit. 1 x $2 / 1000.
    with GenOps.track(team="team-b", customer_id="acme"):
        result = co.rerank(model="rerank-english-v3.0", query="SSO plan", documents=DOCS, top_n=2)

    assert len(result.results) == 2
    event = only_event(rt)
    assert (event.operation_kind, event.request_model) == ("rerank", "rerank-english-v3.0")
    assert event.usage == Usage(input_tokens=0, output_tokens=0, units={"search_units": 1})
    assert event.cost.total == Decimal("0.002")
    assert event.attribution.customer_id == "acme"
    assert call_span_attributes(span_exporter)["genops.usage.units.search_units"] == 1


async def test_async_rerank(rt: Any, aco: cohere.AsyncClientV2, server: StandInServer) -> None:
    server.set_usage(model="rerank-v3.5", search_units=3)
    await aco.rerank(model="rerank-v3.5", query="SSO plan", documents=DOCS)

    event = only_event(rt)
    assert event.usage.units == {"search_units": 3}
    assert event.cost.total == Decimal("0.006")


# -- errors, policies --------------------------------------------------------------------------


def test_provider_error_is_recorded_with_its_type(
    rt: Any, co: cohere.ClientV2, server: StandInServer, span_exporter: InMemorySpanExporter
) -> None:
    server.fail_next(status=429)
    with GenOps.track(team="team-b"), pytest.raises(cohere.errors.TooManyRequestsError):
        co.chat(model="command", messages=USER, request_options=NO_RETRY)

    event = only_event(rt)
    assert (event.status, event.error_type) == ("error", "TooManyRequestsError")
    assert event.cost.total is None and event.cost.source == "failed-call"
    assert event.attribution.team == "team-b"
    assert call_span_attributes(span_exporter)["error.type"] == "TooManyRequestsError"


def test_chat_stream_error_is_recorded(rt: Any, co: cohere.ClientV2, server: StandInServer) -> None:
    server.fail_next(status=400)
    with pytest.raises(cohere.errors.BadRequestError):
        list(co.chat_stream(model="command", messages=USER))

    event = only_event(rt)
    assert (event.status, event.error_type, event.stream) == ("error", "BadRequestError", True)


async def test_async_embed_error_is_recorded(rt: Any, aco: cohere.AsyncClientV2, server: StandInServer) -> None:
    server.fail_next(status=500)
    with pytest.raises(cohere.core.api_error.ApiError):
        await aco.embed(model="embed-english-v3.0", texts=DOCS, input_type="search_query", request_options=NO_RETRY)

    event = only_event(rt)
    assert (event.operation_kind, event.status) == ("embeddings", "error")
    assert event.error_type is not None


FALLBACK_POLICIES = [
    {"name": "no_command_r_plus", "type": "model", "blocked": ["command-r-plus"]},
    {
        "name": "model_fallback_order",
        "type": "custom",
        "config": {"primary": "command-r-plus", "fallback": ["command-r"]},
    },
]


def test_a_substituted_model_is_what_the_provider_is_asked_for(
    genops_runtime: Any, fake_clock: Any, co: cohere.ClientV2, server: StandInServer
) -> None:
    rt = genops_runtime(policies=FALLBACK_POLICIES)
    server.set_usage(model="command-r", input_tokens=1000, output_tokens=100)
    for _ in co.chat_stream(model="command-r-plus", messages=USER):
        pass

    assert server.requests_for("/v2/chat")[-1].json["model"] == "command-r"
    event = only_event(rt)
    assert "fallback" in [d.action for d in event.decisions]
    assert (event.request_model, event.substituted_from) == ("command-r", "command-r-plus")
    assert event.cost.total == Decimal("0.00021")  # 1000 x $0.15 + 100 x $0.60 per MTok


# -- the pricing supplement --------------------------------------------------------------------

WHEN = datetime(2026, 3, 10, tzinfo=UTC)


def test_supplement_lists_only_models_genai_prices_lacks() -> None:
    snapshot = data_snapshot.get_snapshot()
    for entry in supplement.PRICES:
        assert entry.source.startswith("https://") and entry.checked
        for model in entry.models:
            with pytest.raises(LookupError):
                snapshot.find_provider_model(model, None, entry.provider, None)


def test_pricer_uses_the_supplement_for_unknown_models_and_overrides_win() -> None:
    usage = Usage(input_tokens=2_000_000, output_tokens=0)
    listed = Pricer().price("cohere", "embed-multilingual-v3.0", usage, WHEN)
    assert (listed.total, listed.source, listed.version) == (Decimal("0.2"), "genops-supplement", "2026-12-04")

    overridden = Pricer([PriceOverride(model="embed-*", provider="cohere", input_per_million=Decimal("0.08"))])
    assert overridden.price("cohere", "embed-multilingual-v3.0", usage, WHEN).total == Decimal("0.16")

    discounted = Pricer([PriceOverride(model="rerank-v3.5", discount_percent=Decimal(25))])
    cost = discounted.price(
        "cohere", "rerank-v3.5", Usage(input_tokens=0, output_tokens=0, units={"search_units": 10}), WHEN
    )
    assert cost.total == Decimal("0.015")  # 10 x $2 / 1000, less 25 %


def test_usage_mapping_falls_back_to_tokens_without_billed_units() -> None:
    assert genops_cohere.usage_from({"tokens": {"input_tokens": 69.0, "output_tokens": 89.0}}) == Usage(
        input_tokens=69, output_tokens=89
    )
    assert genops_cohere.usage_from(None).provenance == "unavailable"
