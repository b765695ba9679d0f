"""Weaviate REST wire format (``/v1``): meta, readiness, single-object insert/replace/update/
delete/get, and schema create/get. Queries, batch inserts and ``delete_many`` go over gRPC
(``weaviate_grpc.py``); both share the server's vector store (space ``weaviate:<Collection>``,
namespace = tenant).
"""

from __future__ import annotations

import uuid as uuid_module
from typing import Any
from urllib.parse import unquote

from ._common import JsonReply, Reply, ReplyContext
from ._vector_store import Record, VectorError, VectorStore

PROVIDER = "weaviate"
NEEDS_MODEL = False
VERSION = "1.32.0"
GRPC_MAX_MESSAGE_SIZE = 104_858_000
PREFIX = "/v1/objects/"


def space(collection: str) -> str:
    return f"weaviate:{collection}"


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    return {"error": [{"message": message or f"stand-in Weaviate error {status}"}]}


def _store(ctx: ReplyContext) -> VectorStore:
    assert isinstance(ctx.vectors, VectorStore)
    return ctx.vectors


def meta(req: Any, ctx: ReplyContext) -> Reply:
    """``GET /v1/meta``."""
    return JsonReply({"hostname": "http://[::]:8080", "version": VERSION, "modules": {},
                      "grpcMaxMessageSize": GRPC_MAX_MESSAGE_SIZE})  # fmt: skip


def ready(req: Any, ctx: ReplyContext) -> Reply:
    """``GET /v1/.well-known/ready`` and ``/live``."""
    return JsonReply(b"", status=200)


def _vector(obj: dict[str, Any]) -> list[float] | None:
    vector = obj.get("vector")
    if vector is None and isinstance(obj.get("vectors"), dict) and obj["vectors"]:
        vector = next(iter(obj["vectors"].values()))
    return [float(v) for v in vector] if isinstance(vector, list) and vector else None


def _object(record: Record, collection: str, tenant: str, now_ms: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "class": collection,
        "id": record.id,
        "properties": record.metadata,
        "creationTimeUnix": record.created_ms or now_ms,
        "lastUpdateTimeUnix": now_ms,
    }
    if record.values:
        out["vector"] = record.values
    if tenant:
        out["tenant"] = tenant
    return out


def _put(req: dict[str, Any], ctx: ReplyContext, collection: str, object_id: str) -> Reply:
    tenant = req.get("tenant") or ""
    now_ms = ctx.now() * 1000
    record = Record(id=object_id, values=_vector(req), metadata=dict(req.get("properties") or {}), created_ms=now_ms)
    try:
        _store(ctx).upsert(space(collection), tenant, [record])
    except VectorError as exc:
        return JsonReply(error_body(422, str(exc)), status=422)
    return JsonReply(_object(record, collection, tenant, now_ms))


def create_object(req: dict[str, Any], ctx: ReplyContext) -> Reply:
    """``POST /v1/objects``: insert one object (its vector, if given, is stored)."""
    collection = req.get("class")
    if not isinstance(collection, str) or not collection:
        return JsonReply(error_body(422, "class is required"), status=422)
    return _put(req, ctx, collection, str(req.get("id") or uuid_module.uuid4()))


def _target(ctx: ReplyContext) -> tuple[str, str] | None:
    parts = [unquote(p) for p in ctx.path[len(PREFIX) :].split("/") if p]
    return (parts[0], parts[1]) if len(parts) == 2 else None


def _tenant(ctx: ReplyContext) -> str:
    for pair in ctx.query.split("&"):
        key, _, value = pair.partition("=")
        if key == "tenant":
            return unquote(value)
    return ""


def object_by_id(req: Any, ctx: ReplyContext) -> Reply:
    """``DELETE|PUT|PATCH|GET /v1/objects/{class}/{id}``."""
    target = _target(ctx)
    if target is None:
        return JsonReply(error_body(404, "no such object path"), status=404)
    collection, object_id = target
    method = ctx.method
    if method == "PUT":
        return _put(req or {}, ctx, collection, object_id)
    store = _store(ctx)
    tenant = _tenant(ctx) or (req or {}).get("tenant") or ""
    found = store.fetch(space(collection), tenant, [object_id])
    if method == "DELETE":
        if not found:
            return JsonReply(error_body(404, "not found"), status=404)
        store.delete(space(collection), tenant, ids=[object_id])
        return JsonReply(b"", status=204)
    if not found:
        return JsonReply(b"", status=404)
    if method == "PATCH":
        record = found[0]
        merged = Record(id=record.id, values=_vector(req or {}) or record.values,
                        metadata={**record.metadata, **((req or {}).get("properties") or {})}, created_ms=record.created_ms)  # fmt: skip
        store.upsert(space(collection), tenant, [merged])
        return JsonReply(b"", status=204)
    return JsonReply(_object(found[0], collection, tenant, ctx.now() * 1000))


def create_schema(req: dict[str, Any], ctx: ReplyContext) -> Reply:
    """``POST /v1/schema``: accept a collection definition and echo it."""
    return JsonReply({**(req or {}), "properties": (req or {}).get("properties") or []})


def get_schema(req: Any, ctx: ReplyContext) -> Reply:
    """``GET /v1/schema/{class}``: a minimal collection definition."""
    name = unquote(ctx.path[len("/v1/schema/") :])
    return JsonReply({
        "class": name,
        "properties": [],
        "vectorizer": "none",
        "vectorIndexType": "hnsw",
        "vectorIndexConfig": {"distance": "cosine"},
        "invertedIndexConfig": {},
        "multiTenancyConfig": {"enabled": False},
        "replicationConfig": {"factor": 1},
        "shardingConfig": {},
    })  # fmt: skip
