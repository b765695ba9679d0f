"""Cohere (v2 API): `ClientV2` and `AsyncClientV2` `chat`, `chat_stream`, `embed`, `rerank`.

The SDK is Fern-generated: each client method calls one method of its *raw* client
(`RawV2Client` / `AsyncRawV2Client`), which sends exactly one request (the HTTP layer below
may retry it). The patches sit on those raw methods, so `client.v2.*` of the v1 `Client`,
`with_raw_response` and frameworks built on the SDK (LlamaIndex's `CohereEmbedding`) are
governed too.

Cohere bills `billed_units` (not `tokens`): those are the usage recorded and priced, with
rerank `search_units` in `Usage.units["search_units"]`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .. import pipeline
from .._guard import guarded
from ..config import Settings
from ..events import Usage
from . import _estimate
from ._patch import Instrumentation
from ._streams import AsyncStream, SyncStream, _end

PROVIDER = "cohere"
logger = logging.getLogger("genops")

_instrumentation: Instrumentation | None = None


def instrument(settings: Settings | None = None) -> Instrumentation | None:
    """Patch the Cohere SDK (idempotent). Returns None when `cohere` is not installed."""
    global _instrumentation
    try:
        import cohere  # noqa: F401
    except ImportError:
        return None
    try:
        from cohere.v2.raw_client import AsyncRawV2Client, RawV2Client
    except ImportError:  # before 5.16 the v2 client had no raw layer
        logger.warning("GenOps' Cohere integration needs cohere>=5.16: Cohere calls are not governed.")
        return None
    if _instrumentation is not None and _instrumentation.active:
        return _instrumentation
    track_embeddings = settings.provider(PROVIDER).track_embeddings if settings is not None else True
    inst = Instrumentation(PROVIDER)
    kinds = {"chat": "chat", "rerank": "rerank"}
    if track_embeddings:
        kinds["embed"] = "embeddings"
    for method, kind in kinds.items():
        inst.wrap(RawV2Client, method, _sync_call(kind))
        inst.wrap(AsyncRawV2Client, method, _async_call(kind))
    inst.wrap(RawV2Client, "chat_stream", _sync_stream)
    inst.wrap(AsyncRawV2Client, "chat_stream", _async_stream)
    _instrumentation = inst
    return inst


# -- request side ------------------------------------------------------------------------------


def _part_text(part: Any) -> str:
    if isinstance(part, str):
        return part
    if isinstance(part, dict):
        return str(part.get("text") or "")
    text = getattr(part, "text", None)
    return text if isinstance(text, str) else ""


def _content_tokens(content: Any) -> int:
    if isinstance(content, (list, tuple)):
        return _estimate.text_tokens(" ".join(_part_text(p) for p in content))
    return _estimate.text_tokens(_part_text(content))


def _messages_tokens(messages: Any) -> int:
    if not isinstance(messages, (list, tuple)):  # never consume a one-shot iterable
        return 0
    total = _estimate.PER_MESSAGE
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else getattr(message, "content", None)
        total += _estimate.PER_MESSAGE + _content_tokens(content)
    return total


def _begin_args(kind: str, kwargs: dict[str, Any], stream: bool = False) -> dict[str, Any]:
    if kind == "chat":
        max_tokens = kwargs.get("max_tokens")
        return {
            "stream": stream,
            "max_output_tokens": max_tokens if isinstance(max_tokens, int) else None,
            "estimate_input": lambda: _messages_tokens(kwargs.get("messages")),
        }
    if kind == "embeddings":
        texts = kwargs.get("texts")
        texts = texts if isinstance(texts, (list, tuple)) else ()
        return {
            "max_output_tokens": 0,
            "estimate_input": lambda: sum(_estimate.text_tokens(_part_text(t)) for t in texts),
        }
    return {"max_output_tokens": 0}


def _model(kwargs: dict[str, Any]) -> str | None:
    model = kwargs.get("model")
    return model if isinstance(model, str) else None


def _with_model(kwargs: dict[str, Any], call: Any) -> dict[str, Any]:
    if call.model and call.model != kwargs.get("model"):
        return {**kwargs, "model": call.model}
    return kwargs


def _sync_call(kind: str) -> Callable[..., Any]:
    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        call = pipeline.start(PROVIDER, kind, _model(kwargs), **_begin_args(kind, kwargs))
        if call is None:
            return wrapped(*args, **kwargs)
        try:
            result = wrapped(*args, **_with_model(kwargs, call))
        except BaseException as exc:
            call.fail(exc)
            raise
        _finish(call, kind, result)
        return result

    return wrapper


def _async_call(kind: str) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        call = await pipeline.start_async(PROVIDER, kind, _model(kwargs), **_begin_args(kind, kwargs))
        if call is None:
            return await wrapped(*args, **kwargs)
        try:
            result = await wrapped(*args, **_with_model(kwargs, call))
        except BaseException as exc:
            call.fail(exc)
            raise
        _finish(call, kind, result)
        return result

    return wrapper


def _sync_stream(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return _GovernedStream(wrapped, args, kwargs)


def _async_stream(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return _AsyncGovernedStream(wrapped, args, kwargs)


class _StreamResponse:
    """The raw client's `HttpResponse`, with `data` replaced by the metered event stream."""

    def __init__(self, response: Any, data: Any) -> None:
        self._response = response
        self.data = data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._response, name)


class _GovernedStream:
    """Stands in for the raw `chat_stream` context manager: the call starts when it is entered
    (that is when the request is sent) and ends when its events are exhausted or it is left."""

    def __init__(self, wrapped: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self._wrapped, self._args, self._kwargs = wrapped, args, kwargs
        self._inner: Any = None
        self._call: Any = None
        self._meter: _StreamMeter | None = None

    def __enter__(self) -> Any:
        kwargs = self._kwargs
        call = pipeline.start(PROVIDER, "chat", _model(kwargs), **_begin_args("chat", kwargs, stream=True))
        if call is None:
            self._inner = self._wrapped(*self._args, **kwargs)
            return self._inner.__enter__()
        try:
            self._inner = self._wrapped(*self._args, **_with_model(kwargs, call))
            response = self._inner.__enter__()
        except BaseException as exc:
            call.fail(exc)
            raise
        call.release()
        self._call, self._meter = call, _StreamMeter(kwargs)
        return _StreamResponse(response, SyncStream(response.data, call, self._meter))

    def __exit__(self, *exc: object) -> Any:
        try:
            return self._inner.__exit__(*exc)
        finally:
            if self._call is not None and self._meter is not None:
                _end(self._call, self._meter, complete=False)


class _AsyncGovernedStream:
    """The async counterpart of `_GovernedStream`."""

    def __init__(self, wrapped: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self._wrapped, self._args, self._kwargs = wrapped, args, kwargs
        self._inner: Any = None
        self._call: Any = None
        self._meter: _StreamMeter | None = None

    async def __aenter__(self) -> Any:
        kwargs = self._kwargs
        call = await pipeline.start_async(PROVIDER, "chat", _model(kwargs), **_begin_args("chat", kwargs, stream=True))
        if call is None:
            self._inner = self._wrapped(*self._args, **kwargs)
            return await self._inner.__aenter__()
        try:
            self._inner = self._wrapped(*self._args, **_with_model(kwargs, call))
            response = await self._inner.__aenter__()
        except BaseException as exc:
            call.fail(exc)
            raise
        call.release()
        self._call, self._meter = call, _StreamMeter(kwargs)
        return _StreamResponse(response, AsyncStream(response.data, call, self._meter))

    async def __aexit__(self, *exc: object) -> Any:
        try:
            return await self._inner.__aexit__(*exc)
        finally:
            if self._call is not None and self._meter is not None:
                _end(self._call, self._meter, complete=False)


# -- response side -----------------------------------------------------------------------------


def _finish(call: Any, kind: str, result: Any) -> None:
    with guarded("cohere.finish"):
        data = getattr(result, "data", result)  # raw methods return an HttpResponse
        if kind == "chat":
            usage = usage_from(getattr(data, "usage", None))
        else:
            usage = usage_from(getattr(data, "meta", None), no_output=True)
        call.finish(usage, None)


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def usage_from(usage: Any, *, no_output: bool = False) -> Usage:
    """Map a Cohere `usage` (chat) or `meta` (embed, rerank) object to a `Usage`.

    The billed units are what Cohere charges; `tokens` (which may count tokens Cohere adds
    itself and does not bill) is only a fallback when no billed units were reported.
    """
    billed = _get(usage, "billed_units")
    tokens = _get(usage, "tokens")
    source = billed if billed is not None else tokens
    if source is None:
        return Usage.unavailable()
    inp = _int(_get(source, "input_tokens"))
    out = _int(_get(source, "output_tokens"))
    units: dict[str, int] = {}
    for name in ("search_units", "images", "classifications"):
        value = _int(_get(billed, name))
        if value:
            units[name] = value
    return Usage(
        input_tokens=inp or 0,
        output_tokens=0 if no_output else (out or 0),
        units=units,
    )


class _StreamMeter:
    """Usage from the `message-end` event (`delta.usage`); an estimate from the request and
    the streamed text when the stream ended without it."""

    __slots__ = ("chars", "kwargs", "usage")

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self.kwargs = kwargs
        self.usage: Any = None
        self.chars = 0

    def on_item(self, item: Any) -> None:
        kind = getattr(item, "type", None)
        delta = getattr(item, "delta", None)
        if kind == "content-delta":
            text = getattr(getattr(getattr(delta, "message", None), "content", None), "text", None)
            if isinstance(text, str):
                self.chars += len(text)
        elif kind == "message-end":
            usage = getattr(delta, "usage", None)
            if usage is not None:
                self.usage = usage

    def result(self) -> tuple[Usage, str | None]:
        if self.usage is not None:
            return usage_from(self.usage), None
        inp = _messages_tokens(self.kwargs.get("messages"))
        out = -(-self.chars // _estimate.CHARS_PER_TOKEN)
        return Usage(input_tokens=inp, output_tokens=out, provenance="estimated"), None
