"""Shared pieces of the vector-database integrations (Pinecone, Weaviate, Chroma).

A vector operation becomes one governed event: `provider` is the database, `operation_kind`
is `vector.query`, `vector.upsert` or `vector.delete`, the "model" is the index/collection name,
and `Usage.units` holds what the database bills (see `genops.pricing.vector`). Tokens are None.

Vector calls never nest into a framework call (a LangChain or LlamaIndex LLM run): they are
their own operations with their own prices.
"""

from __future__ import annotations

import contextvars
import importlib.util
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

import wrapt

from .. import pipeline
from .._guard import guarded
from .._runtime import get_runtime
from ..config import Settings
from ..context import current
from ..events import Provenance, Usage, UsageEvent
from ..pricing.vector import STORAGE_UNIT
from ._patch import Instrumentation

logger = logging.getLogger("genops")

Kind = Literal["vector.query", "vector.upsert", "vector.delete"]
QUERY: Kind = "vector.query"
UPSERT: Kind = "vector.upsert"
DELETE: Kind = "vector.delete"
STORAGE = "vector.storage"
REQUEST_UNIT = {QUERY: "queries", UPSERT: "upserts", DELETE: "deletes"}
Wrapped = Callable[..., Any]


def start(provider: str, kind: Kind, index: str | None) -> Any:
    """Begin a governed vector operation (None when GenOps is not initialised).

    Policies see it as an operation without a model (see `_named`); a budget with no room left
    or a rate limit raises `PolicyViolationError`.
    """
    token = pipeline._active.set(None)  # never a NestedCall of a framework call in flight
    try:
        return _named(pipeline.start(provider, kind, None), index)
    finally:
        pipeline._active.reset(token)


async def start_async(provider: str, kind: Kind, index: str | None) -> Any:
    """`start` for async clients (a throttling policy waits without blocking the loop)."""
    token = pipeline._active.set(None)
    try:
        return _named(await pipeline.start_async(provider, kind, None), index)
    finally:
        pipeline._active.reset(token)


def governed(provider: str, kind: Kind, index: str | None, usage_of: Callable[[Any], Usage], wrapped: Wrapped,
             args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:  # fmt: skip
    """Run `wrapped(*args, **kwargs)` as one governed vector operation: the policy check before
    it, then the event with `usage_of(result)` (a failed request is recorded as failed). Without
    GenOps the request simply runs."""
    call = start(provider, kind, index)
    if call is None:
        return wrapped(*args, **kwargs)
    try:
        result = wrapped(*args, **kwargs)
    except BaseException as exc:
        call.fail(exc)
        raise
    _finish(provider, call, usage_of, result)
    return result


async def governed_async(provider: str, kind: Kind, index: str | None, usage_of: Callable[[Any], Usage],
                         wrapped: Wrapped, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:  # fmt: skip
    """`governed` for async clients (`wrapped` returns an awaitable)."""
    call = await start_async(provider, kind, index)
    if call is None:
        return await wrapped(*args, **kwargs)
    try:
        result = await wrapped(*args, **kwargs)
    except BaseException as exc:
        call.fail(exc)
        raise
    _finish(provider, call, usage_of, result)
    return result


def _finish(provider: str, call: Any, usage_of: Callable[[Any], Usage], result: Any) -> None:
    with guarded(f"{provider}.finish"):
        call.finish(usage_of(result))


def _named(call: Any, index: str | None) -> Any:
    """The index becomes the event's model only after the policy check: model rules govern
    models, not index names, and budgets treat the operation as one without a model (nothing to
    reserve ahead, settled at its actual cost)."""
    if call is not None:
        call.release()  # calls made inside (an embedding function) are their own events
        call.model = call.requested_model = index
    return call


def usage(
    kind: Kind,
    *,
    provenance: Provenance,
    read_units: int | None = None,
    write_units: int | None = None,
    vectors: int | None = None,
) -> Usage:
    """The usage of one vector request: one request unit of its kind plus the given units."""
    units = {REQUEST_UNIT[kind]: 1}
    for name, value in (("read_units", read_units), ("write_units", write_units), ("vectors", vectors)):
        if value is not None:
            units[name] = int(value)
    return Usage(units=units, provenance=provenance)


def record_storage(
    provider: str,
    index: str | None,
    gb: Decimal | str | float,
    *,
    hours: Decimal | str | float = 24,
    **attribution: Any,
) -> UsageEvent | None:
    """Record that `index` held `gb` gigabytes (10^9 bytes) for `hours` hours, as one
    `vector.storage` event priced at the database's `storage_gb_month` (a month = 730 hours).

    Call it from a scheduled job with the sizes your database reports (for example daily,
    `hours=24`). Attribution: the current `GenOps.track` scope, overridden by keyword arguments
    (`team=`, `project=`, custom attributes). Storage snapshots are not checked by policies.
    Returns the recorded event, or None when GenOps is not initialised.
    """
    rt = get_runtime()
    if rt is None:
        return None
    size, period = _decimal("gb", gb), _decimal("hours", hours)
    mb_hours = int((size * 1000 * period).to_integral_value(ROUND_HALF_EVEN))
    call = pipeline.Call(rt, provider, STORAGE, index, attribution=current().merged(**attribution))
    call.release()
    return call.finish(Usage(units={STORAGE_UNIT: mb_hours}, provenance="reported"))


def _decimal(name: str, value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")  # noqa: TRY004
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except ArithmeticError:
        raise ValueError(f"{name} must be a non-negative number, got {value!r}") from None
    if not number.is_finite() or number < 0:
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    return number


class ContextThreadPoolExecutor(ThreadPoolExecutor):
    """A thread pool whose tasks run in a copy of the submitting thread's context, so the
    GenOps attribution (`GenOps.track`) and the OTel parent span follow batched requests."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)


def context_executor(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A wrapt wrapper for a module's `ThreadPoolExecutor` name: build the context-carrying one."""
    return ContextThreadPoolExecutor(*args, **kwargs)


class DeferredInstrumentation(Instrumentation):
    """Patches applied when their library is imported (now, if it already is): importing a
    vector-database client takes seconds, so `GenOps.init` never imports one the application
    does not use."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.removed = False

    def uninstrument(self) -> None:
        self.removed = True
        super().uninstrument()


def installed(package: str) -> bool:
    """Whether `package` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def when_imported(package: str, inst: DeferredInstrumentation, apply: Callable[[Instrumentation], None],
                  current: Callable[[], Any]) -> None:  # fmt: skip
    """Run `apply(inst)` once `package` is imported (now, if it is), unless `inst` was removed
    or replaced by then (`current()` returns the live instrumentation)."""

    def on_import(module: Any) -> None:
        if inst.removed or current() is not inst or inst.active:
            return
        try:
            apply(inst)
        except ImportError as exc:  # an unsupported version of the library
            logger.warning("GenOps could not instrument %s: %s", package, exc)

    wrapt.register_post_import_hook(on_import, package)


class VectorIntegration:
    """A vector database's entry points: `instrument` (patches applied by `apply` once `package`
    is imported) and `record_storage` (snapshots of its indexes/collections)."""

    def __init__(self, provider: str, package: str, apply: Callable[[Instrumentation], None]) -> None:
        self.provider = provider
        self.package = package
        self.apply = apply
        self.instrumentation: DeferredInstrumentation | None = None

    def instrument(self, settings: Settings | None = None) -> Instrumentation | None:
        """Patch the database's client once it is imported (idempotent). None when it is not
        installed."""
        if self.instrumentation is not None and not self.instrumentation.removed:
            return self.instrumentation
        if not installed(self.package):
            return None
        inst = self.instrumentation = DeferredInstrumentation(self.provider)
        when_imported(self.package, inst, self.apply, lambda: self.instrumentation)
        return inst

    def record_storage(self, index: str | None, gb: Decimal | str | float, *,
                       hours: Decimal | str | float = 24, **attribution: Any) -> UsageEvent | None:  # fmt: skip
        """Record that the index/collection `index` held `gb` gigabytes for `hours` hours,
        priced at the database's `pricing.vector_db.<provider>.storage_gb_month` (see
        `genops.providers._vector.record_storage`)."""
        return record_storage(self.provider, index, gb, hours=hours, **attribution)
