"""Chroma (`chromadb`): collection queries, writes and deletes are governed, embedded
(`EphemeralClient`, `PersistentClient`) and client/server (`HttpClient`, `AsyncHttpClient`).

The patches sit on `Collection` and `AsyncCollection`:

- `vector.query`: `query` (`vectors` = results returned over all query rows);
- `vector.upsert`: `add`, `upsert`, `update` (`vectors` = records written);
- `vector.delete`: `delete` (`vectors` = records Chroma reports deleted, else the ids given).

Chroma reports no billing units: the units are GenOps' counts (provenance "estimated"),
priced from `pricing.vector_db.chroma` (a self-hosted Chroma configured as `chroma: {}` costs
$0; unconfigured, its cost is unknown). The event's model is the collection name.

Embeddings a collection computes with its embedding function are their own events when the
function calls an instrumented SDK (e.g. Chroma's OpenAI embedding function): they are not
folded into the vector event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import _vector
from ._patch import Instrumentation

PROVIDER = "chroma"


def _apply(inst: Instrumentation) -> None:
    from chromadb.api.models.AsyncCollection import AsyncCollection
    from chromadb.api.models.Collection import Collection

    for name, (kind, meter) in OPERATIONS.items():
        inst.wrap(Collection, name, _sync(kind, meter))
        inst.wrap(AsyncCollection, name, _async(kind, meter))


_integration = _vector.VectorIntegration(PROVIDER, "chromadb", _apply)
instrument = _integration.instrument  # patch chromadb's collections once it is imported
record_storage = _integration.record_storage  # storage snapshots of a collection


# -- usage -------------------------------------------------------------------------------------


def _count_ids(args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    ids = kwargs.get("ids", args[0] if args else None)
    if isinstance(ids, str):
        return 1
    return len(ids) if isinstance(ids, (list, tuple)) else None


def _query_vectors(args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> int | None:
    ids = result.get("ids") if isinstance(result, dict) else None
    return sum(len(row) for row in ids) if isinstance(ids, list) else None


def _written(args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> int | None:
    return _count_ids(args, kwargs)


def _deleted(args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> int | None:
    if isinstance(result, dict) and isinstance(result.get("deleted"), int):
        return int(result["deleted"])
    return _count_ids(args, kwargs)


Meter = Callable[[tuple[Any, ...], dict[str, Any], Any], "int | None"]
OPERATIONS: dict[str, tuple[_vector.Kind, Meter]] = {
    "query": (_vector.QUERY, _query_vectors),
    "add": (_vector.UPSERT, _written),
    "upsert": (_vector.UPSERT, _written),
    "update": (_vector.UPSERT, _written),
    "delete": (_vector.DELETE, _deleted),
}


def _usage_of(kind: _vector.Kind, meter: Meter, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Callable[[Any], Any]:
    return lambda result: _vector.usage(kind, provenance="estimated", vectors=meter(args, kwargs, result))


def _sync(kind: _vector.Kind, meter: Meter) -> Callable[..., Any]:
    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        usage_of = _usage_of(kind, meter, args, kwargs)
        return _vector.governed(PROVIDER, kind, getattr(instance, "name", None), usage_of, wrapped, args, kwargs)

    return wrapper


def _async(kind: _vector.Kind, meter: Meter) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        usage_of = _usage_of(kind, meter, args, kwargs)
        return await _vector.governed_async(
            PROVIDER, kind, getattr(instance, "name", None), usage_of, wrapped, args, kwargs
        )

    return wrapper
