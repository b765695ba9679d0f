"""The request hook shared by SDKs generated with Stainless (openai, anthropic).

Both SDKs send every API call through `SyncAPIClient.post` / `AsyncAPIClient.post(path, *,
body, stream, ...)`. One wrapper per SDK decides from the path whether the request is a model
call, runs it through the pipeline, and hands streams to a meter. The adapter supplies what
differs between SDKs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import pipeline
from .._guard import guarded
from ..events import Usage
from ._streams import AsyncStream, StreamMeter, SyncStream


@dataclass(frozen=True)
class Adapter:
    name: str
    kinds: dict[str, str]  # request path -> operation kind
    provider: Callable[[Any], str]  # client instance -> provider name
    begin_args: Callable[[str, dict[str, Any]], dict[str, Any]]  # (kind, body) -> pipeline.start kwargs
    usage: Callable[[str, Any], Usage]  # (kind, response usage object) -> Usage
    meter: Callable[[str, dict[str, Any]], StreamMeter]


def _route(adapter: Adapter, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str | None, Any]:
    path = args[0] if args else kwargs.get("path")
    body = kwargs.get("body")
    kind = adapter.kinds.get(path) if isinstance(path, str) else None
    return (kind, body) if isinstance(body, dict) else (None, body)


def _model(body: dict[str, Any]) -> str | None:
    model = body.get("model")
    return model if isinstance(model, str) else None


def _with_model(kwargs: dict[str, Any], body: dict[str, Any], call: Any) -> dict[str, Any]:
    """The request with the model a policy chose (a fallback), when it differs."""
    if call.model and call.model != body.get("model"):
        return {**kwargs, "body": {**body, "model": call.model}}
    return kwargs


def _finish(adapter: Adapter, call: Any, kind: str, result: Any) -> None:
    with guarded(f"{adapter.name}.finish"):
        parsed = result
        if hasattr(result, "parse") and not hasattr(result, "usage"):  # with_raw_response
            parsed = result.parse()
        call.finish(adapter.usage(kind, getattr(parsed, "usage", None)), getattr(parsed, "model", None))


def sync_post(adapter: Adapter) -> Callable[..., Any]:
    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        kind, body = _route(adapter, args, kwargs)
        if kind is None:
            return wrapped(*args, **kwargs)
        call = pipeline.start(adapter.provider(instance), kind, _model(body), **adapter.begin_args(kind, body))
        if call is None:
            return wrapped(*args, **kwargs)
        try:
            result = wrapped(*args, **_with_model(kwargs, body, call))
        except BaseException as exc:
            call.fail(exc)
            raise
        call.release()
        if kwargs.get("stream"):
            return SyncStream(result, call, adapter.meter(kind, body))
        _finish(adapter, call, kind, result)
        return result

    return wrapper


def async_post(adapter: Adapter) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        kind, body = _route(adapter, args, kwargs)
        if kind is None:
            return await wrapped(*args, **kwargs)
        call = await pipeline.start_async(adapter.provider(instance), kind, _model(body), **adapter.begin_args(kind, body))
        if call is None:
            return await wrapped(*args, **kwargs)
        try:
            result = await wrapped(*args, **_with_model(kwargs, body, call))
        except BaseException as exc:
            call.fail(exc)
            raise
        call.release()
        if kwargs.get("stream"):
            return AsyncStream(result, call, adapter.meter(kind, body))
        _finish(adapter, call, kind, result)
        return result

    return wrapper
