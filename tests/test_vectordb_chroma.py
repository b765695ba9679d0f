"""Chroma (the real `chromadb`, embedded): collection query/add/upsert/update/delete become
vector events; prices come from config (self-hosted: $0 when configured, else unknown);
embeddings computed through an instrumented SDK are their own events."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings
from event_helpers import recorded_events as events

from genops import track

FREE = {"vector_db": {"chroma": {}}}
PRICED = {"vector_db": {"chroma": {"query": "0.00002", "upsert": "0.00001", "delete": "0"}}}


@pytest.fixture
def chroma() -> Iterator[Any]:
    client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False, allow_reset=True))
    client.reset()
    yield client
    client.reset()


def seed(col: Any) -> None:
    col.add(
        ids=["refunds", "shipping", "returns"],
        embeddings=[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.7, 0.7, 0.0]],
        metadatas=[{"topic": "billing"}, {"topic": "logistics"}, {"topic": "billing"}],
        documents=["Refunds take 5 days.", "We ship worldwide.", "Returns within 30 days."],
    )


def test_query_is_counted_attributed_and_free_when_configured_free(genops_runtime, chroma):
    rt = genops_runtime(pricing=FREE)
    col = chroma.create_collection("sales-kb", embedding_function=None)
    seed(col)
    with track("lead_research", team="sales", project="intel", customer_id="globex", competitor="initech"):
        result = col.query(query_embeddings=[[1.0, 0.1, 0.0], [0.0, 1.0, 0.0]], n_results=2)
    assert result["ids"] == [["refunds", "returns"], ["shipping", "returns"]]

    (query,) = events(rt, operation_kind="vector.query")
    assert (query.provider, query.request_model) == ("chroma", "sales-kb")
    assert query.usage.units == {"queries": 1, "vectors": 4}
    assert query.usage.provenance == "estimated"
    assert (query.cost.total, query.cost.source) == (Decimal(0), "config")
    a = query.attribution
    assert (a.team, a.project, a.customer_id, a.operation) == ("sales", "intel", "globex", "lead_research")
    assert a.custom["competitor"] == "initech"


def test_writes_and_deletes_with_configured_prices(genops_runtime, chroma):
    rt = genops_runtime(pricing=PRICED)
    col = chroma.create_collection("sales-kb", embedding_function=None)
    seed(col)
    col.upsert(ids=["refunds", "faq"], embeddings=[[1.0, 0.1, 0.0], [0.1, 0.1, 0.9]])
    col.update(ids="faq", metadatas={"topic": "general"})
    deleted = col.delete(where={"topic": "billing"})
    col.delete(ids=["shipping"])
    assert col.count() == 1

    upserts = events(rt, operation_kind="vector.upsert")
    assert sorted(e.usage.units["vectors"] for e in upserts) == [1, 2, 3]
    assert sum((e.cost.total for e in upserts), Decimal(0)) == Decimal("0.00003")
    assert deleted == {"deleted": 2}
    deletes = events(rt, operation_kind="vector.delete")
    assert sorted(e.usage.units["vectors"] for e in deletes) == [1, 2]  # Chroma's count, else the ids
    assert all(e.cost.total == 0 for e in deletes)


def test_unconfigured_chroma_costs_are_unknown_not_zero(genops_runtime, chroma):
    rt = genops_runtime()
    col = chroma.create_collection("kb-docs", embedding_function=None)
    seed(col)
    (event,) = events(rt)
    assert event.cost.total is None and event.cost.source == "unknown-vector-price"


def test_a_failed_operation_is_recorded_as_an_error(genops_runtime, chroma):
    rt = genops_runtime(pricing=FREE)
    col = chroma.create_collection("kb-docs", embedding_function=None)
    seed(col)
    with pytest.raises(Exception) as err:
        col.query(query_embeddings=[[1.0, 0.0]], n_results=1)  # wrong dimension
    (failed,) = events(rt, operation_kind="vector.query")
    assert (failed.status, failed.error_type) == ("error", type(err.value).__name__)
    assert failed.cost.total is None


def test_embeddings_made_through_openai_are_their_own_events(genops_runtime, chroma, server):
    from chromadb.utils.embedding_functions import OpenAIEmbeddingFunction

    rt = genops_runtime(pricing=FREE)
    embed = OpenAIEmbeddingFunction(
        api_key="test", model_name="text-embedding-3-small", api_base=server.openai_base_url
    )
    col = chroma.create_collection("docs", embedding_function=embed)
    with track(team="sales"):
        col.add(ids=["a", "b"], documents=["alpha beta", "gamma delta"])
        col.query(query_texts=["alpha"], n_results=1)
    all_events = events(rt)
    kinds = sorted((e.provider, e.operation_kind) for e in all_events)
    assert kinds == [("chroma", "vector.query"), ("chroma", "vector.upsert"),
                     ("openai", "embeddings"), ("openai", "embeddings")]  # fmt: skip
    embeddings = [e for e in all_events if e.provider == "openai"]
    # stand-in usage: ceil(chars / 4) per request: "alpha beta"+"gamma delta" = 21 chars -> 6; "alpha" -> 2
    assert sorted(e.usage.input_tokens for e in embeddings) == [2, 6]
    assert all(e.cost.total is not None and e.cost.total > 0 for e in embeddings)
    assert {e.attribution.team for e in all_events} == {"sales"}


def test_async_collection(genops_runtime, server):
    """The async client talks to a Chroma server; here it cannot run one, so only the patch is checked."""
    from chromadb.api.models.AsyncCollection import AsyncCollection

    genops_runtime()
    for name in ("query", "add", "upsert", "update", "delete"):
        assert type(AsyncCollection.__dict__[name]).__name__ == "FunctionWrapper"
    assert asyncio.iscoroutinefunction(AsyncCollection.__dict__["query"].__wrapped__)
