"""Weaviate (the real `weaviate-client` v4) against the stand-in server: REST for single
objects, gRPC for queries, batches and delete_many; counts, config prices, attribution, errors."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import weaviate
from event_helpers import recorded_events as events
from weaviate.classes.data import DataObject
from weaviate.classes.query import Filter, MetadataQuery
from weaviate.exceptions import WeaviateQueryError

from genops import track

PRICES = {"vector_db": {"weaviate": {"query": "0.0001", "upsert": "0.0002", "delete": "0.00005"}}}


def connect(server: Any) -> Any:
    return weaviate.connect_to_custom(
        http_host="127.0.0.1", http_port=server.weaviate_http_port, http_secure=False,
        grpc_host="127.0.0.1", grpc_port=server.weaviate_grpc_port, grpc_secure=False,
        skip_init_checks=True,
    )  # fmt: skip


@pytest.fixture
def client(server: Any) -> Iterator[Any]:
    c = connect(server)
    yield c
    c.close()


def seed(docs: Any) -> None:
    docs.data.insert_many([
        DataObject(properties={"title": "refunds", "topic": "billing"}, vector=[1.0, 0.0, 0.0]),
        DataObject(properties={"title": "shipping", "topic": "logistics"}, vector=[0.0, 1.0, 0.0]),
        DataObject(properties={"title": "returns", "topic": "billing"}, vector=[0.7, 0.7, 0.0]),
    ])  # fmt: skip


def test_near_vector_query_is_counted_priced_and_attributed(genops_runtime, server, client):
    rt = genops_runtime(pricing=PRICES)
    docs = client.collections.use("Docs")
    seed(docs)
    with track("knowledge_search", team="knowledge", project="search", user_id="u-7"):
        result = docs.query.near_vector([1.0, 0.1, 0.0], limit=2, return_metadata=MetadataQuery(distance=True))
    assert [o.properties["title"] for o in result.objects] == ["refunds", "returns"]

    (query,) = events(rt, operation_kind="vector.query")
    assert (query.provider, query.request_model) == ("weaviate", "Docs")
    assert query.usage.units == {"queries": 1, "vectors": 2}
    assert query.usage.provenance == "estimated"
    assert (query.cost.total, query.cost.source) == (Decimal("0.0001"), "config")
    a = query.attribution
    assert (a.team, a.project, a.user_id, a.operation) == ("knowledge", "search", "u-7", "knowledge_search")
    assert server.requests_for("/weaviate.v1.Weaviate/Search")  # went over gRPC


def test_writes_over_rest_and_grpc(genops_runtime, server, client):
    rt = genops_runtime(pricing=PRICES)
    docs = client.collections.use("Docs")
    seed(docs)  # gRPC BatchObjects
    uid = docs.data.insert({"title": "warranty"}, vector=[0.0, 0.0, 1.0])  # REST POST /v1/objects
    docs.data.replace(uid, {"title": "warranty (2y)"}, vector=[0.0, 0.1, 1.0])  # REST PUT
    upserts = sorted(events(rt, operation_kind="vector.upsert"), key=lambda e: -e.usage.units["vectors"])
    assert [e.usage.units for e in upserts] == [
        {"upserts": 1, "vectors": 3}, {"upserts": 1, "vectors": 1}, {"upserts": 1, "vectors": 1},
    ]  # fmt: skip
    assert {e.request_model for e in upserts} == {"Docs"}
    assert sum((e.cost.total for e in upserts), Decimal(0)) == Decimal("0.0006")
    assert [r.method for r in server.requests if r.path.startswith("/v1/objects")] == ["POST", "PUT"]


def test_deletes_count_what_was_deleted(genops_runtime, server, client):
    rt = genops_runtime(pricing=PRICES)
    docs = client.collections.use("Docs")
    uid = docs.data.insert({"title": "old"}, vector=[1.0, 0.0, 0.0])
    seed(docs)
    assert docs.data.delete_by_id(uid) is True  # REST DELETE
    assert docs.data.delete_by_id(uid) is False  # 404: nothing deleted, not an error
    assert docs.data.delete_many(where=Filter.by_property("topic").equal("billing")).successful == 2  # gRPC
    deletes = events(rt, operation_kind="vector.delete")
    assert sorted(e.usage.units["vectors"] for e in deletes) == [0, 1, 2]
    assert all(e.status == "ok" and e.cost.total == Decimal("0.00005") for e in deletes)


def test_fetch_objects_and_near_text_are_queries(genops_runtime, server, client):
    rt = genops_runtime(pricing=PRICES)
    docs = client.collections.use("Docs")
    seed(docs)
    fetched = docs.query.fetch_objects(limit=5, filters=Filter.by_property("topic").equal("billing"))
    assert sorted(o.properties["title"] for o in fetched.objects) == ["refunds", "returns"]
    assert len(docs.query.near_text("refund policy", limit=1).objects) == 1
    queries = events(rt, operation_kind="vector.query")
    assert sorted(e.usage.units["vectors"] for e in queries) == [1, 2]


def test_unconfigured_weaviate_costs_are_unknown_not_zero(genops_runtime, server, client):
    rt = genops_runtime()
    docs = client.collections.use("Docs")
    seed(docs)
    (event,) = events(rt)
    assert event.cost.total is None and event.cost.source == "unknown-vector-price"


def test_a_failed_grpc_query_is_recorded_as_an_error(genops_runtime, server, client):
    rt = genops_runtime(pricing=PRICES)
    docs = client.collections.use("Docs")
    server.fail_next(400, path="/Search")
    with pytest.raises(WeaviateQueryError):
        docs.query.near_vector([1.0, 0.0, 0.0], limit=1)
    (failed,) = events(rt, operation_kind="vector.query")
    assert (failed.status, failed.error_type) == ("error", "WeaviateQueryError")
    assert failed.cost.total is None


def test_async_client(genops_runtime, server):
    rt = genops_runtime(pricing=PRICES)

    async def run() -> None:
        client = weaviate.use_async_with_custom(
            http_host="127.0.0.1", http_port=server.weaviate_http_port, http_secure=False,
            grpc_host="127.0.0.1", grpc_port=server.weaviate_grpc_port, grpc_secure=False,
            skip_init_checks=True,
        )  # fmt: skip
        async with client:
            docs = client.collections.use("Docs")
            with track(team="async-team"):
                await docs.data.insert({"title": "a"}, vector=[1.0, 0.0])
                await docs.query.near_vector([1.0, 0.0], limit=3)

    asyncio.run(run())
    by_kind = {e.operation_kind: e for e in events(rt)}
    assert by_kind["vector.upsert"].usage.units == {"upserts": 1, "vectors": 1}
    assert by_kind["vector.query"].usage.units == {"queries": 1, "vectors": 1}
    assert {e.attribution.team for e in by_kind.values()} == {"async-team"}
