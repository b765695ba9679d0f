"""The request hook shared by SDKs generated with Stainless (openai, anthropic).

Both SDKs send every API call through `SyncAPIClient.request` / `AsyncAPIClient.request(cast_to,
options, *, stream, stream_cls)`, which runs the retries. The hook sits there rather than on
`post`, because resources keep a bound `post` from when they were first used: a client that made
calls before `GenOps.init` still goes through `request`. One wrapper per SDK decides from the
options' path whether the request is a model call, runs it through the pipeline, and hands
streams to a meter. The adapter supplies what differs between SDKs.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import pipeline
from .._guard import guarded
from ..events import Usage
from ._patch import Instrumentation
from ._streams import StreamMeter, metered_stream


@dataclass(frozen=True)
class Adapter:
    name: str
    kinds: dict[str, str]  # request path -> operation kind
    provider: Callable[[Any], str]  # client instance -> provider name
    begin_args: Callable[[str, dict[str, Any]], dict[str, Any]]  # (kind, body) -> pipeline.start kwargs
    usage: Callable[[str, Any], Usage]  # (kind, response usage object) -> Usage
    meter: Callable[[str, dict[str, Any]], StreamMeter]


def _options(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return args[1] if len(args) > 1 else kwargs.get("options")


def _route(adapter: Adapter, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str | None, Any]:
    options = _options(args, kwargs)
    path, body = getattr(options, "url", None), getattr(options, "json_data", None)
    if getattr(options, "method", "").lower() != "post" or not isinstance(body, dict):
        return None, body
    return adapter.kinds.get(path) if isinstance(path, str) else None, body


def _model(body: dict[str, Any]) -> str | None:
    model = body.get("model")
    return model if isinstance(model, str) else None


def _with_model(args: tuple[Any, ...], kwargs: dict[str, Any], body: dict[str, Any], call: Any) -> tuple[Any, ...]:
    """The request's arguments with the model a policy chose (a fallback), when it differs."""
    if not call.model or call.model == body.get("model"):
        return args
    options = copy.copy(_options(args, kwargs))
    options.json_data = {**body, "model": call.model}
    if len(args) > 1:
        return (args[0], options, *args[2:])
    kwargs["options"] = options
    return args


def _finish(adapter: Adapter, call: Any, kind: str, result: Any) -> None:
    with guarded(f"{adapter.name}.finish"):
        parsed = result
        if hasattr(result, "parse") and not hasattr(result, "usage"):  # with_raw_response
            parsed = result.parse()
        call.finish(adapter.usage(kind, getattr(parsed, "usage", None)), getattr(parsed, "model", None))


def sync_request(adapter: Adapter) -> Callable[..., Any]:
    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        kind, body = _route(adapter, args, kwargs)
        if kind is None:
            return wrapped(*args, **kwargs)
        call = pipeline.start(adapter.provider(instance), kind, _model(body), **adapter.begin_args(kind, body))
        if call is None:
            return wrapped(*args, **kwargs)
        try:
            result = wrapped(*_with_model(args, kwargs, body, call), **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        call.release()
        if kwargs.get("stream"):
            return metered_stream(result, call, adapter.meter(kind, body), is_async=False)
        _finish(adapter, call, kind, result)
        return result

    return wrapper


def async_request(adapter: Adapter) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        kind, body = _route(adapter, args, kwargs)
        if kind is None:
            return await wrapped(*args, **kwargs)
        call = await pipeline.start_async(adapter.provider(instance), kind, _model(body), **adapter.begin_args(kind, body))
        if call is None:
            return await wrapped(*args, **kwargs)
        try:
            result = await wrapped(*_with_model(args, kwargs, body, call), **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        call.release()
        if kwargs.get("stream"):
            return metered_stream(result, call, adapter.meter(kind, body), is_async=True)
        _finish(adapter, call, kind, result)
        return result

    return wrapper


def instrument_clients(base: Any, adapter: Adapter) -> Instrumentation:
    """Patch the `request` of an SDK's `SyncAPIClient` and `AsyncAPIClient` (its `_base_client`
    module `base`) with `adapter`."""
    inst = Instrumentation(adapter.name)
    inst.wrap(base.SyncAPIClient, "request", sync_request(adapter))
    inst.wrap(base.AsyncAPIClient, "request", async_request(adapter))
    return inst
