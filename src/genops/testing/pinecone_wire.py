"""Pinecone data-plane wire format (REST, API version 2025-10+): ``POST /query``,
``/vectors/upsert``, ``/vectors/delete``, ``/describe_index_stats``, ``GET /vectors/fetch``.

The index host is the stand-in's base URL (``StandInServer.pinecone_host``). Vectors are kept
(``_vector_store``); queries rank by cosine similarity and report ``usage.readUnits`` like the
real API (``StandInServer.set_read_units`` fixes the figure). A vector whose dimension differs
from the namespace's is refused with 400, as Pinecone does.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from ._common import JsonReply, Reply, ReplyContext
from ._vector_store import Record, VectorError, VectorStore

PROVIDER = "pinecone"
NEEDS_MODEL = False
SPACE = "pinecone"

# gRPC status codes Pinecone puts in its JSON errors
_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 429: 8, 500: 13, 503: 14}
_MESSAGES = {
    400: "Invalid request.",
    401: "Invalid API Key",
    404: "Resource not found",
    429: "Request failed. You've reached your read unit limit for the current month.",
    500: "Internal error",
    503: "Service unavailable",
}


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    return {"code": _CODES.get(status, 2), "message": message or _MESSAGES.get(status, "Error"), "details": []}


def _store(ctx: ReplyContext) -> VectorStore:
    store = ctx.vectors
    assert isinstance(store, VectorStore), "the stand-in server passes its vector store"
    return store


def _bad(message: str) -> Reply:
    return JsonReply(error_body(400, message), status=400)


def _record(raw: Any) -> Record:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise VectorError("each vector needs a string id")
    values = raw.get("values")
    if values is not None and not isinstance(values, list):
        raise VectorError("values must be a list of numbers")
    return Record(
        id=raw["id"],
        values=[float(v) for v in values] if values else None,
        metadata=dict(raw.get("metadata") or {}),
        sparse=raw.get("sparseValues"),
    )


def _match(score: float, record: Record, values: bool, metadata: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"id": record.id, "score": round(score, 6), "values": (record.values or []) if values else []}
    if metadata and record.metadata:
        out["metadata"] = record.metadata
    return out


def upsert(req: dict[str, Any], ctx: ReplyContext) -> Reply:
    """``POST /vectors/upsert``: ``{"upsertedCount": n}``."""
    try:
        records = [_record(v) for v in req.get("vectors") or []]
        count = _store(ctx).upsert(SPACE, req.get("namespace") or "", records)
    except VectorError as exc:
        return _bad(str(exc))
    return JsonReply({"upsertedCount": count})


def query(req: dict[str, Any], ctx: ReplyContext) -> Reply:
    """``POST /query``: ranked ``matches``, ``namespace`` and ``usage.readUnits``."""
    store = _store(ctx)
    namespace = req.get("namespace") or ""
    vector = req.get("vector")
    top_k = req.get("topK")
    if not isinstance(top_k, int) or top_k < 1:
        return _bad("topK must be a positive integer")
    try:
        if vector is None and isinstance(req.get("id"), str):
            found = store.fetch(SPACE, namespace, [req["id"]])
            vector = found[0].values if found else None
            if vector is None:
                return JsonReply(
                    {
                        "matches": [],
                        "namespace": namespace,
                        "usage": {"readUnits": store.query_read_units(SPACE, namespace)},
                    }
                )
        hits = store.query(SPACE, namespace, [float(v) for v in vector] if vector else None, top_k, req.get("filter"))
    except VectorError as exc:
        return _bad(str(exc))
    values, metadata = bool(req.get("includeValues")), bool(req.get("includeMetadata"))
    return JsonReply({
        "results": [],
        "matches": [_match(score, r, values, metadata) for score, r in hits],
        "namespace": namespace,
        "usage": {"readUnits": store.query_read_units(SPACE, namespace)},
    })  # fmt: skip


def delete(req: dict[str, Any], ctx: ReplyContext) -> Reply:
    """``POST /vectors/delete`` (by ``ids``, ``filter`` or ``deleteAll``): ``{}``."""
    try:
        _store(ctx).delete(SPACE, req.get("namespace") or "", ids=req.get("ids"), where=req.get("filter"),
                           everything=bool(req.get("deleteAll")))  # fmt: skip
    except VectorError as exc:
        return _bad(str(exc))
    return JsonReply({})


def describe_index_stats(req: Any, ctx: ReplyContext) -> Reply:
    """``POST /describe_index_stats``."""
    store = _store(ctx)
    namespaces = store.namespaces(SPACE)
    return JsonReply({
        "namespaces": {ns: {"vectorCount": n} for ns, n in namespaces.items()},
        "dimension": store.dimension(SPACE),
        "indexFullness": 0.0,
        "totalVectorCount": sum(namespaces.values()),
        "metric": "cosine",
        "vectorType": "dense",
    })  # fmt: skip


def fetch(req: Any, ctx: ReplyContext) -> Reply:
    """``GET /vectors/fetch?ids=..&namespace=..``."""
    params = parse_qs(ctx.query)
    namespace = (params.get("namespace") or [""])[0]
    found = _store(ctx).fetch(SPACE, namespace, params.get("ids") or [])
    vectors = {
        r.id: {"id": r.id, "values": r.values or [], **({"metadata": r.metadata} if r.metadata else {})} for r in found
    }
    return JsonReply({"vectors": vectors, "namespace": namespace, "usage": {"readUnits": max(1, -(-len(found) // 10))}})
