"""Pinecone (the `pinecone` package, REST data plane): query, upsert and delete are governed.

The patch sits on the SDK's HTTP client (`HTTPClient.post` / `AsyncHTTPClient.post`), so every
`Index` and `AsyncIndex` is covered whenever it was created, including `upsert(batch_size=...)`
(one event per request, as Pinecone bills) and `query_namespaces` (one event per namespace).

- `vector.query`: Pinecone reports the read units of each query (`usage.readUnits`): they are
  recorded as `read_units`, provenance "reported".
- `vector.upsert`: the response carries only `upsertedCount`. Write units are GenOps' estimate
  (provenance "estimated"): one per started KB of the request's records (id, 4 bytes per dense
  value, 8 per sparse entry, metadata JSON), at least one.
- `vector.delete`: no figures in the response; recorded as one write unit (the minimum),
  estimated. Deleting by filter or `delete_all` records no vector count.

The event's model is the index name: taken from `pc.index(name=...)` / `pc.Index(...)`, else
from a Pinecone host name (`NAME-PROJECT.svc....pinecone.io`), else None.

Not covered: the gRPC client (`GrpcIndex`), document/records search, inference (embed/rerank),
fetch/list. Batches sent by the SDK's own thread pools keep the caller's attribution (the pools
are made to carry the caller's context).

Storage: `record_storage("support-docs", gb=12.5, hours=24)` records a snapshot priced per
GB-month (see `genops.providers._vector.record_storage`).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Any

from .._guard import guarded
from . import _vector
from ._patch import Instrumentation

PROVIDER = "pinecone"
KINDS: dict[str, _vector.Kind] = {
    "/query": _vector.QUERY,
    "/vectors/upsert": _vector.UPSERT,
    "/vectors/delete": _vector.DELETE,
}
WRITE_UNIT_BYTES = 1024
MIN_WRITE_UNITS = 1
_HOST_NAME = re.compile(r"^(?:https?://)?([a-z0-9][a-z0-9-]*?)-[a-z0-9]{7}\.svc\.", re.IGNORECASE)

_names: dict[str, str] = {}
_names_lock = threading.Lock()


def _apply(inst: Instrumentation) -> None:
    import pinecone._client as client
    import pinecone._internal.bulk.engine as bulk
    import pinecone._internal.http_client as http
    import pinecone.async_client.pinecone as async_client
    import pinecone.index as index_module

    inst.wrap(http.HTTPClient, "post", _sync_post)
    inst.wrap(http.AsyncHTTPClient, "post", _async_post)
    inst.wrap(client.Pinecone, "index", _remember_name)
    inst.wrap(client.Pinecone, "Index", _remember_name)
    inst.wrap(async_client.AsyncPinecone, "index", _remember_name_async)
    inst.wrap(index_module, "ThreadPoolExecutor", _vector.context_executor)
    inst.wrap(bulk, "ThreadPoolExecutor", _vector.context_executor)


_integration = _vector.VectorIntegration(PROVIDER, "pinecone", _apply)
instrument = _integration.instrument  # patch the Pinecone SDK once it is imported
record_storage = _integration.record_storage  # storage snapshots of an index (default: Pinecone's list price)


# -- index names -------------------------------------------------------------------------------


def index_name(host: str | None) -> str | None:
    """The index name served at `host` (None when GenOps cannot tell)."""
    if not host:
        return None
    name = _names.get(host)
    if name is not None:
        return name
    match = _HOST_NAME.match(host)
    return match.group(1) if match else None


def _register(index: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    name = kwargs.get("name") or (args[0] if args and isinstance(args[0], str) else "")
    host = getattr(index, "host", None)
    if name and isinstance(host, str):
        with _names_lock:
            _names[host] = name


def _remember_name(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    index = wrapped(*args, **kwargs)
    with guarded("pinecone.index_name"):
        _register(index, args, kwargs)
    return index


async def _remember_name_async(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    index = await wrapped(*args, **kwargs)
    with guarded("pinecone.index_name"):
        _register(index, args, kwargs)
    return index


# -- requests ----------------------------------------------------------------------------------


def _request(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[_vector.Kind | None, dict[str, Any]]:
    """The kind of a data-plane request (None for others) and its JSON body."""
    path = args[0] if args else kwargs.get("path")
    kind = KINDS.get(path) if isinstance(path, str) else None
    body = kwargs.get("json")
    return kind, body if isinstance(body, dict) else {}


def _usage(kind: _vector.Kind, body: dict[str, Any]) -> Callable[[Any], Any]:
    return lambda response: usage_of(kind, body, getattr(response, "content", b""))


def _name_of(instance: Any) -> str | None:
    config = getattr(instance, "_config", None)
    return index_name(getattr(config, "host", None))


def _sync_post(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    kind, body = _request(args, kwargs)
    if kind is None:
        return wrapped(*args, **kwargs)
    return _vector.governed(PROVIDER, kind, _name_of(instance), _usage(kind, body), wrapped, args, kwargs)


async def _async_post(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    kind, body = _request(args, kwargs)
    if kind is None:
        return await wrapped(*args, **kwargs)
    return await _vector.governed_async(PROVIDER, kind, _name_of(instance), _usage(kind, body), wrapped, args, kwargs)


# -- usage -------------------------------------------------------------------------------------


def usage_of(kind: str, body: dict[str, Any], content: bytes) -> Any:
    """The `Usage` of one data-plane request from its JSON body and raw response."""
    if kind == _vector.QUERY:
        reply = _json(content)
        usage = reply.get("usage") if isinstance(reply, dict) else None
        matches = reply.get("matches") if isinstance(reply, dict) else None
        read_units = usage.get("readUnits", usage.get("read_units")) if isinstance(usage, dict) else None
        if read_units is None:
            return _vector.usage(_vector.QUERY, provenance="unavailable", vectors=_len(matches))
        return _vector.usage(_vector.QUERY, provenance="reported", read_units=read_units, vectors=_len(matches))
    if kind == _vector.UPSERT:
        reply = _json(content)
        records = body.get("vectors") or []
        count = reply.get("upsertedCount") if isinstance(reply, dict) else None
        vectors = count if isinstance(count, int) else len(records)
        return _vector.usage(_vector.UPSERT, provenance="estimated", write_units=write_units(records), vectors=vectors)
    ids = body.get("ids")
    return _vector.usage(_vector.DELETE, provenance="estimated", write_units=MIN_WRITE_UNITS,
                         vectors=len(ids) if isinstance(ids, list) else None)  # fmt: skip


def write_units(records: list[Any]) -> int:
    """GenOps' estimate of the write units of an upsert request (see the module doc)."""
    size = sum(record_bytes(r) for r in records if isinstance(r, dict))
    return max(MIN_WRITE_UNITS, -(-size // WRITE_UNIT_BYTES))


def record_bytes(record: dict[str, Any]) -> int:
    """Approximate stored size of one record in wire form."""
    size = len(str(record.get("id", "")).encode())
    values = record.get("values")
    if values is not None:
        size += 4 * len(values)
    sparse = record.get("sparseValues") or record.get("sparse_values")
    if isinstance(sparse, dict):
        size += 8 * len(sparse.get("indices") or ())
    metadata = record.get("metadata")
    if metadata:
        size += len(json.dumps(metadata, separators=(",", ":"), default=str).encode())
    return size


def _json(content: Any) -> Any:
    if not content:
        return {}
    try:
        return json.loads(content)
    except ValueError:
        return {}


def _len(value: Any) -> int | None:
    return len(value) if isinstance(value, list) else None
