"""Attribution context: who the current work is charged to.

A scope stack lives in a `ContextVar`, so it follows `asyncio` tasks and threads started with
`contextvars.copy_context()`. Between services it travels as W3C baggage (`genops.team=...`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar
from urllib.parse import quote, unquote

from .events import Attribution

_EMPTY = Attribution()
_current: ContextVar[Attribution] = ContextVar("genops_attribution", default=_EMPTY)

BAGGAGE_PREFIX = "genops."
BAGGAGE_HEADER = "baggage"

F = TypeVar("F", bound=Callable[..., Any])


def current() -> Attribution:
    """The attribution in force here (scopes only; config defaults are applied by the pipeline)."""
    return _current.get()


@contextmanager
def scope(**values: Any) -> Iterator[Attribution]:
    """Enter an attribution scope without a span (used by middleware and adapters)."""
    token = _current.set(_current.get().merged(**values))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def set_attribution(attribution: Attribution) -> Any:
    """Low-level: replace the current attribution; returns a token for `reset_attribution`."""
    return _current.set(attribution)


def reset_attribution(token: Any) -> None:
    _current.reset(token)


# -- W3C baggage -------------------------------------------------------------------------------


def to_baggage(attribution: Attribution) -> str:
    """Render attribution as a W3C `baggage` header value."""
    items = [f"{BAGGAGE_PREFIX}{k}={quote(v, safe='')}" for k, v in attribution.as_dict().items()]
    return ",".join(items)


def from_baggage(header: str | None) -> dict[str, str]:
    """Parse the `genops.*` members of a W3C `baggage` header (other members are ignored)."""
    values: dict[str, str] = {}
    if not header:
        return values
    for member in header.split(","):
        key, sep, value = member.strip().partition("=")
        if not sep or not key.startswith(BAGGAGE_PREFIX):
            continue
        value = value.split(";", 1)[0].strip()  # drop baggage properties
        values[key[len(BAGGAGE_PREFIX):].strip()] = unquote(value)
    return values


def inject(headers: MutableMapping[str, str]) -> None:
    """Add the current attribution to outgoing request headers (merging any existing baggage)."""
    attribution = _current.get()
    if attribution is _EMPTY:
        return
    ours = to_baggage(attribution)
    if not ours:
        return
    existing = headers.get(BAGGAGE_HEADER)
    if existing:
        kept = [m for m in existing.split(",") if not m.strip().startswith(BAGGAGE_PREFIX)]
        ours = ",".join([*(m.strip() for m in kept if m.strip()), ours])
    headers[BAGGAGE_HEADER] = ours


def extract(headers: Mapping[str, str]) -> dict[str, str]:
    """Attribution values carried by incoming request headers (case-insensitive lookup)."""
    for key, value in headers.items():
        if key.lower() == BAGGAGE_HEADER:
            return from_baggage(value)
    return {}


def decorate(make_scope: Callable[[], Any], func: F) -> F:
    """Wrap sync and async functions so each call runs inside `make_scope()`.

    Generator functions are refused: their body runs after the call returns, outside the scope,
    and a scope held open across `yield` would leak into the consumer. Use `with GenOps.track(...)`
    inside the generator instead.
    """
    if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
        raise TypeError(
            f"track_usage cannot decorate the generator function {func.__qualname__!r}: "
            "use `with GenOps.track(...)` inside it"
        )
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            async with make_scope():
                return await func(*args, **kwargs)

        return async_wrapper  # type: ignore[return-value]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with make_scope():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
