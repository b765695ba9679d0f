"""Weaviate (`weaviate-client` v4): queries, inserts and deletes are governed.

The v4 client sends queries and batches over gRPC and single-object writes over REST; the
patches sit on its connection classes (`ConnectionSync`, `ConnectionAsync`), so every
collection method that reaches one of these requests is covered, sync and async:

- `vector.query`: gRPC `Search` (`query.near_vector`, `near_text`, `fetch_objects`, `hybrid`,
  `bm25`, `near_object`, ... and `generate.*`); `vectors` = objects returned.
- `vector.upsert`: gRPC `BatchObjects` (`data.insert_many`, `batch.*`) and REST
  `POST /v1/objects` (`data.insert`), `PUT`/`PATCH /v1/objects/{class}/{id}` (`replace`,
  `update`); `vectors` = objects written.
- `vector.delete`: gRPC `BatchDelete` (`data.delete_many`, `vectors` = deleted) and REST
  `DELETE /v1/objects/{class}/{id}` (`data.delete_by_id`, 1 or 0 when not found).

Weaviate reports no billing units: the units are GenOps' counts (provenance "estimated") and
are priced from `pricing.vector_db.weaviate` (per request; storage via `record_storage`).
The event's model is the collection name.

Limits: the server-side batching stream (`grpc_batch_stream`, Weaviate >= 1.33 `batch.stream`)
and aggregations are not recorded; `collection.batch` sends from a background thread, so its
events carry the configured default attribution, not the `GenOps.track` scope.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import _vector
from ._patch import Instrumentation

PROVIDER = "weaviate"
_OBJECTS = "/objects"


def _apply(inst: Instrumentation) -> None:
    from weaviate.connect import v4  # ImportError on a v3 client: not instrumented (logged)

    for cls, is_async in ((v4.ConnectionSync, False), (v4.ConnectionAsync, True)):
        for method, meter in (("grpc_search", _search), ("grpc_batch_objects", _batch_objects),
                              ("grpc_batch_delete", _batch_delete)):  # fmt: skip
            inst.wrap(cls, method, _grpc_wrapper(meter, is_async))
    inst.wrap(v4._ConnectionBase, "_send", _rest_send)


_integration = _vector.VectorIntegration(PROVIDER, "weaviate", _apply)
instrument = _integration.instrument  # patch weaviate-client v4 once it is imported
record_storage = _integration.record_storage  # storage snapshots of a collection


# -- gRPC --------------------------------------------------------------------------------------

Plan = tuple[_vector.Kind, str | None, Callable[[Any], Any]]  # kind, collection, usage of the reply
Meter = Callable[[Any], Plan]


def _search(request: Any) -> Plan:
    return (
        _vector.QUERY,
        request.collection or None,
        lambda reply: _vector.usage(_vector.QUERY, provenance="estimated", vectors=len(reply.results)),
    )


def _batch_objects(request: Any) -> Plan:
    collections = {o.collection for o in request.objects}
    name = next(iter(collections)) if len(collections) == 1 else None
    sent = len(request.objects)
    # the connection returns {index: error} for the objects that failed
    return (
        _vector.UPSERT,
        name,
        lambda errors: _vector.usage(_vector.UPSERT, provenance="estimated", vectors=sent - len(errors or {})),
    )


def _batch_delete(request: Any) -> Plan:
    return (
        _vector.DELETE,
        request.collection or None,
        lambda reply: _vector.usage(
            _vector.DELETE, provenance="estimated", vectors=0 if request.dry_run else reply.successful
        ),
    )


def _grpc_wrapper(meter: Meter, is_async: bool) -> Callable[..., Any]:
    def begin(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Plan | None:
        request = args[0] if args else kwargs.get("request")
        return meter(request) if request is not None else None

    if is_async:

        async def async_wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            plan = begin(args, kwargs)
            if plan is None:
                return await wrapped(*args, **kwargs)
            return await _vector.governed_async(PROVIDER, *plan, wrapped, args, kwargs)

        return async_wrapper

    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        plan = begin(args, kwargs)
        if plan is None:
            return wrapped(*args, **kwargs)
        return _vector.governed(PROVIDER, *plan, wrapped, args, kwargs)

    return wrapper


# -- REST (single objects) -----------------------------------------------------------------------


def rest_operation(method: str, url: str, body: Any) -> tuple[_vector.Kind, str | None] | None:
    """(kind, collection) of a REST request GenOps records, else None."""
    if method not in ("POST", "PUT", "PATCH", "DELETE"):
        return None
    path = url.split("?", 1)[0]
    at = path.find("/v1" + _OBJECTS)
    if at < 0:
        return None
    rest = [p for p in path[at + len("/v1" + _OBJECTS) :].split("/") if p]
    if method == "POST" and not rest:
        return _vector.UPSERT, body.get("class") if isinstance(body, dict) else None
    if len(rest) == 2 and method != "POST":
        return (_vector.DELETE if method == "DELETE" else _vector.UPSERT), rest[0]
    return None


def _rest_usage(kind: _vector.Kind) -> Callable[[Any], Any]:
    def usage_of(response: Any) -> Any:
        written = 0 if getattr(response, "status_code", 200) == 404 else 1
        return _vector.usage(kind, provenance="estimated", vectors=written)

    return usage_of


def _rest_send(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    method = args[0] if args else kwargs.get("method")
    operation = rest_operation(str(method), str(kwargs.get("url", "")), kwargs.get("weaviate_object"))
    if operation is None:
        return wrapped(*args, **kwargs)
    kind, collection = operation
    if type(instance).__name__ == "ConnectionAsync":  # `_send` returns a coroutine
        return _vector.governed_async(PROVIDER, kind, collection, _rest_usage(kind), wrapped, args, kwargs)
    return _vector.governed(PROVIDER, kind, collection, _rest_usage(kind), wrapped, args, kwargs)
