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
from decimal import Decimal
from typing import Any

from .._guard import guarded
from ..config import Settings
from ..events import UsageEvent
from . import _vector
from ._patch import Instrumentation

PROVIDER = "chroma"

_instrumentation: _vector.DeferredInstrumentation | None = None


def instrument(settings: Settings | None = None) -> Instrumentation | None:
    """Patch chromadb's collections once it is imported (idempotent). None when not installed."""
    global _instrumentation
    if _instrumentation is not None and not _instrumentation.removed:
        return _instrumentation
    if not _vector.installed("chromadb"):
        return None
    inst = _instrumentation = _vector.DeferredInstrumentation(PROVIDER)
    _vector.when_imported("chromadb", inst, _apply, lambda: _instrumentation)
    return inst


def _apply(inst: Instrumentation) -> None:
    from chromadb.api.models.AsyncCollection import AsyncCollection
    from chromadb.api.models.Collection import Collection

    for name, (kind, meter) in OPERATIONS.items():
        inst.wrap(Collection, name, _sync(kind, meter))
        inst.wrap(AsyncCollection, name, _async(kind, meter))


def record_storage(collection: str | None, gb: Decimal | str | float, *,
                   hours: Decimal | str | float = 24, **attribution: Any) -> UsageEvent | None:  # fmt: skip
    """Record a storage snapshot of a Chroma collection, priced at the configured
    `pricing.vector_db.chroma.storage_gb_month` (unknown when not configured)."""
    return _vector.record_storage(PROVIDER, collection, gb, hours=hours, **attribution)


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
OPERATIONS: dict[str, tuple[str, Meter]] = {
    "query": (_vector.QUERY, _query_vectors),
    "add": (_vector.UPSERT, _written),
    "upsert": (_vector.UPSERT, _written),
    "update": (_vector.UPSERT, _written),
    "delete": (_vector.DELETE, _deleted),
}


def _finish(call: Any, kind: str, meter: Meter, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
    with guarded("chroma.finish"):
        call.finish(_vector.usage(kind, provenance="estimated", vectors=meter(args, kwargs, result)))  # type: ignore[arg-type]


def _sync(kind: str, meter: Meter) -> Callable[..., Any]:
    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        call = _vector.start(PROVIDER, kind, getattr(instance, "name", None))  # type: ignore[arg-type]
        if call is None:
            return wrapped(*args, **kwargs)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        _finish(call, kind, meter, args, kwargs, result)
        return result

    return wrapper


def _async(kind: str, meter: Meter) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        call = await _vector.start_async(PROVIDER, kind, getattr(instance, "name", None))  # type: ignore[arg-type]
        if call is None:
            return await wrapped(*args, **kwargs)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        _finish(call, kind, meter, args, kwargs, result)
        return result

    return wrapper
