"""Pinecone (the real `pinecone` SDK, REST data plane) against the stand-in server: reported
read units, estimated write units, index names, attribution, batches, async, errors."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from opentelemetry.trace import SpanKind
from pinecone import AsyncPinecone, Pinecone
from pinecone.errors import PineconeError
from pinecone.index import Index

from genops import track

RU = Decimal(16) / 1_000_000  # $ per read unit (Standard plan default)
WU = Decimal(4) / 1_000_000  # $ per write unit


def open_index(server: Any) -> Index:
    """Opened after GenOps starts, as the case study says (GenOps learns the index name here)."""
    return Pinecone(api_key="test").index(name="support-docs", host=server.pinecone_host)


def events(rt: Any, **filters: Any) -> list[Any]:
    rt.flush()
    return sorted(rt.ledger.events(**filters), key=lambda e: (e.start_time, e.operation_kind))


def seed(index: Index) -> None:
    index.upsert(vectors=[("refunds", [1.0, 0.0, 0.0], {"topic": "billing"}),
                          ("shipping", [0.0, 1.0, 0.0], {"topic": "logistics"}),
                          ("returns", [0.7, 0.7, 0.0], {"topic": "billing"})], namespace="faq")  # fmt: skip


def test_query_records_reported_read_units_priced_and_attributed(genops_runtime, server, fake_clock):
    rt = genops_runtime()
    index = open_index(server)
    seed(index)
    server.set_read_units(7)
    fake_clock.advance(1)
    with track("customer_support_query", team="support", project="chatbot", customer_id="acme"):
        result = index.query(top_k=2, vector=[1.0, 0.1, 0.0], namespace="faq", filter={"topic": "billing"})
    assert [m.id for m in result.matches] == ["refunds", "returns"]
    assert result.usage.read_units == 7

    _, query = events(rt)
    assert (query.provider, query.operation_kind, query.request_model) == ("pinecone", "vector.query", "support-docs")
    assert query.usage.units == {"queries": 1, "read_units": 7, "vectors": 2}
    assert query.usage.provenance == "reported"
    assert (query.usage.input_tokens, query.usage.output_tokens) == (None, None)
    assert query.cost.total == 7 * RU == Decimal("0.000112")
    assert query.cost.source == "genops-vector-defaults"
    a = query.attribution
    assert (a.team, a.project, a.customer_id, a.operation) == ("support", "chatbot", "acme", "customer_support_query")
    assert query.status == "ok"


def test_upsert_records_estimated_write_units(genops_runtime, server):
    rt = genops_runtime()
    index = open_index(server)
    vectors = [{"id": f"doc-{i}", "values": [0.1] * 256, "metadata": {"t": "x"}} for i in range(10)]
    assert index.upsert(vectors=vectors, namespace="kb").upserted_count == 10
    (event,) = events(rt)
    assert (event.operation_kind, event.request_model) == ("vector.upsert", "support-docs")
    # 10 records x (5 id bytes + 1,024 value bytes + 9 metadata bytes) = 10,380 bytes -> 11 WU
    assert event.usage.units == {"upserts": 1, "write_units": 11, "vectors": 10}
    assert event.usage.provenance == "estimated"
    assert event.cost.total == 11 * WU == Decimal("0.000044")


def test_batched_upsert_is_one_event_per_request_and_keeps_attribution(genops_runtime, server):
    rt = genops_runtime()
    index = open_index(server)
    vectors = [(f"v{i}", [float(i), 1.0]) for i in range(5)]
    with track(team="ingest", project="kb-sync"):
        result = index.upsert(vectors=vectors, batch_size=2, show_progress=False, max_concurrency=2)
    assert result.upserted_count == 5
    assert len(server.requests_for("/vectors/upsert")) == 3
    upserts = events(rt, operation_kind="vector.upsert")
    assert sorted(e.usage.units["vectors"] for e in upserts) == [1, 2, 2]
    assert {(e.attribution.team, e.attribution.project) for e in upserts} == {("ingest", "kb-sync")}
    assert all(e.usage.units["write_units"] == 1 for e in upserts)


def test_query_namespaces_runs_one_attributed_event_per_namespace(genops_runtime, server):
    rt = genops_runtime()
    index = open_index(server)
    index.upsert(vectors=[("a", [1.0, 0.0])], namespace="en")
    index.upsert(vectors=[("b", [0.0, 1.0])], namespace="fr")
    server.set_read_units(3)
    with track(team="search"):
        merged = index.query_namespaces(vector=[1.0, 0.2], namespaces=["en", "fr"], metric="cosine", top_k=1)
    assert [m.id for m in merged.matches] == ["a"]
    queries = events(rt, operation_kind="vector.query")
    assert len(queries) == 2
    assert {e.attribution.team for e in queries} == {"search"}
    assert sum((e.cost.total for e in queries), Decimal(0)) == 6 * RU


def test_delete_records_ids_and_the_minimum_write_unit(genops_runtime, server):
    rt = genops_runtime()
    index = open_index(server)
    seed(index)
    index.delete(ids=["refunds", "shipping"], namespace="faq")
    index.delete(filter={"topic": {"$eq": "billing"}}, namespace="faq")
    deletes = events(rt, operation_kind="vector.delete")
    assert sorted(str(e.usage.units.get("vectors")) for e in deletes) == ["2", "None"]
    assert all(e.usage.units["write_units"] == 1 and e.cost.total == WU for e in deletes)
    assert index.describe_index_stats().total_vector_count == 0


def test_a_refused_query_is_recorded_as_an_error(genops_runtime, server, span_exporter):
    rt = genops_runtime()
    index = open_index(server)
    seed(index)
    with pytest.raises(PineconeError) as err:
        index.query(top_k=1, vector=[1.0, 0.0], namespace="faq")  # wrong dimension: 400
    assert "dimension" in str(err.value)
    (failed,) = events(rt, operation_kind="vector.query")
    assert failed.status == "error"
    assert failed.error_type == type(err.value).__name__
    assert failed.cost.total is None and failed.cost.source == "failed-call"
    spans = [s for s in span_exporter.get_finished_spans() if s.kind == SpanKind.CLIENT
             and s.attributes.get("gen_ai.operation.name") == "vector.query"]  # fmt: skip
    assert len(spans) == 1 and not spans[0].status.is_ok


def test_span_carries_the_units(genops_runtime, server, span_exporter):
    rt = genops_runtime()
    index = open_index(server)
    seed(index)
    server.set_read_units(4)
    index.query(top_k=1, vector=[1.0, 0.0, 0.0], namespace="faq")
    rt.flush()
    (span,) = [
        s for s in span_exporter.get_finished_spans() if s.attributes.get("gen_ai.operation.name") == "vector.query"
    ]
    assert span.attributes["genops.usage.units.read_units"] == 4
    assert span.attributes["gen_ai.provider.name"] == "pinecone"


def test_an_index_opened_before_genops_has_no_name_but_is_priced(genops_runtime, server):
    host = f"http://localhost:{server.port}"  # a host no other test names
    early = Pinecone(api_key="test").index(name="early-docs", host=host)  # before GenOps: name unseen
    rt = genops_runtime()
    early.upsert(vectors=[("a", [1.0, 0.0])])
    server.set_read_units(2)
    Index(host=host, api_key="test").query(top_k=1, vector=[1.0, 0.0])
    upsert, query = events(rt)
    assert upsert.request_model is None and query.request_model is None
    assert query.cost.total == 2 * RU


def test_async_index(genops_runtime, server):
    rt = genops_runtime()

    async def run() -> None:
        async with AsyncPinecone(api_key="test") as pc:
            index = await pc.index(name="support-docs", host=server.pinecone_host)
            async with index:
                await index.upsert(vectors=[("a", [1.0, 0.0]), ("b", [0.0, 1.0])])
                with track(team="async-team"):
                    await index.query(top_k=2, vector=[1.0, 0.0])

    server.set_read_units(5)
    asyncio.run(run())
    upsert, query = sorted(events(rt), key=lambda e: e.operation_kind, reverse=True)
    assert (upsert.operation_kind, upsert.request_model, upsert.usage.units["vectors"]) == (
        "vector.upsert",
        "support-docs",
        2,
    )
    assert (query.request_model, query.usage.units["read_units"], query.attribution.team) == (
        "support-docs",
        5,
        "async-team",
    )
    assert query.cost.total == 5 * RU


def test_configured_prices_replace_the_defaults(genops_runtime, server):
    rt = genops_runtime(pricing={"vector_db": {"pinecone": {"read_unit_per_million": "24"}}})
    index = open_index(server)
    seed(index)
    server.set_read_units(10)
    index.query(top_k=1, vector=[1.0, 0.0, 0.0], namespace="faq")
    (query,) = events(rt, operation_kind="vector.query")
    assert (query.cost.total, query.cost.source) == (Decimal("0.00024"), "config")


def test_uninstrumented_after_shutdown(genops_runtime, server):
    from pinecone._internal.http_client import HTTPClient

    from genops._runtime import stop_runtime

    genops_runtime()
    index = open_index(server)
    assert type(HTTPClient.__dict__["post"]).__name__ == "FunctionWrapper"
    stop_runtime()
    assert type(HTTPClient.__dict__["post"]).__name__ == "function"
    index.upsert(vectors=[("a", [1.0])])  # still works, unrecorded


def test_policies_treat_vector_operations_as_model_less(genops_runtime, server):
    from genops.errors import PolicyViolationError

    only_gpt4o = {"name": "only_gpt4o", "type": "model", "allowed": ["gpt-4o"], "enforcement": "BLOCKED"}
    budget = {
        "name": "support_budget",
        "type": "budget",
        "limit": 0.0001,
        "teams": ["support"],
        "enforcement": "BLOCKED",
    }
    rt = genops_runtime(policies=[only_gpt4o, budget], attribution={"team": "support"})
    index = open_index(server)
    index.upsert(vectors=[("a", [1.0, 0.0])])  # 1 WU = $0.000004
    server.set_read_units(6)  # $0.000096 per query
    index.query(top_k=1, vector=[1.0, 0.0])  # the index name is not a model: the model rule lets it through
    with pytest.raises(PolicyViolationError, match="support_budget"):
        index.query(top_k=1, vector=[1.0, 0.0])  # spent $0.0001 of $0.0001: no room left
    assert len(server.requests_for("/query")) == 1  # the refused query never reached Pinecone
    upsert, ok, blocked = sorted(events(rt), key=lambda e: (e.status != "ok", e.operation_kind != "vector.upsert"))
    assert (ok.status, ok.request_model, ok.cost.total) == ("ok", "support-docs", 6 * RU)
    assert upsert.cost.total + ok.cost.total == Decimal("0.0001")
    # refused before the name is attached (policies see vector operations without a model)
    assert (blocked.status, blocked.operation_kind, blocked.request_model, blocked.cost.total) == (
        "blocked",
        "vector.query",
        None,
        0,
    )
    assert [d.policy for d in ok.decisions] == ["support_budget"]  # the model rule did not apply
