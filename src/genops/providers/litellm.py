"""LiteLLM: every `litellm.completion`, `acompletion`, `embedding` and `aembedding` is governed,
each attempt of a fallback chain on its own.

    from genops.providers.litellm import auto_instrument
    auto_instrument(team="sales", project="competitive-intel")

or `providers: {litellm: {auto_instrument: true}}` in genops.yaml (the default for an installed
LiteLLM). Both are idempotent and work in either order with `GenOps.init`. If LiteLLM is not
imported yet, the patch is applied when it is (so `from litellm import completion` after
`GenOps.init` is governed too); names imported from LiteLLM *before* instrumentation keep
LiteLLM's unpatched functions: call `litellm.completion(...)` through the module.

Attribution precedence, strongest first: `GenOps.track` scopes (inner over outer), then the
values given to `auto_instrument`, then genops.yaml's `attribution` defaults.

One LiteLLM call is one governed call (a framework-level call in the pipeline): the provider is
LiteLLM's resolved provider for the model (`gpt-4-turbo` -> openai, `claude-opus-4` ->
anthropic). When LiteLLM calls an SDK GenOps also instruments (the OpenAI SDK for OpenAI
models), the SDK layer hands its exact usage to this call instead of recording its own event.

Fallbacks (`fallbacks=[...]`): LiteLLM runs each model of the chain through
`litellm.acompletion`, so each attempt is a governed call of its own: policies are checked on
the model actually tried, a failed attempt is recorded with status `error` and its error type,
an attempt a policy refuses is recorded `blocked` and LiteLLM moves on to the next model, and
the answering model is priced at its own price. If every attempt of a chain was refused by a
policy, the caller gets the last `PolicyViolationError` (LiteLLM itself would raise a generic
`APIConnectionError` saying "All fallback attempts failed"); if any attempt failed otherwise,
LiteLLM's own exception is raised. LiteLLM's Router calls `litellm.completion`/`acompletion`
per deployment, so Router attempts are governed the same way.

Streams (`stream=True`) are recorded when they end; usage comes from the final chunk when the
request sets `stream_options={"include_usage": True}`, else it is estimated and flagged.

A `model_fallback_order` policy (`type: custom`) applies to LiteLLM calls across providers:
a refused `gpt-4-turbo` can be sent to `claude-opus-4` instead (the call is made with the
substituted model, recorded under its provider, with `substituted_from`). Fallback names must
be names LiteLLM routes (`claude-opus-4`, `cohere_chat/command-r-plus`); the case study's
`cohere-command-r-plus` is not one, and LiteLLM 1.110 no longer routes the bare
`command-r-plus` either: such an attempt fails in LiteLLM and is recorded as a failed attempt.

Limits: LiteLLM's internal retries (`num_retries`) and the OpenAI SDK's retries happen inside
one governed attempt (one event, one policy check). A substituted model is sent with the
request's other arguments (`api_base`, `custom_llm_provider`) unchanged. Cohere streams are
not usable in LiteLLM 1.110 (it cannot parse Cohere v2's SSE); a failing stream is recorded
as an error. Other LiteLLM endpoints (`text_completion`, `responses`, images, audio) are not
governed. Inside another framework call (e.g. LangChain's ChatLiteLLM), LiteLLM calls hand
their usage to that call (one event) and fallback attempts are not recorded separately.
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib.util
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from typing import Any

from .. import pipeline
from .._guard import guarded
from ..config import Settings
from ..context import current
from ..errors import PolicyViolationError
from ..events import Attribution, Usage
from . import _litellm_usage as meter
from ._patch import Instrumentation
from ._streams import AsyncStream, SyncStream

__all__ = ["auto_instrument", "instrument"]

# (function name, operation kind, async)
ENTRY_POINTS = (
    ("completion", "chat", False),
    ("acompletion", "chat", True),
    ("embedding", "embeddings", False),
    ("aembedding", "embeddings", True),
)


class _Handle(Instrumentation):
    """The LiteLLM patches; may be pending until LiteLLM is imported."""

    def __init__(self, track_embeddings: bool) -> None:
        super().__init__("litellm")
        self.track_embeddings = track_embeddings
        self.cancelled = False
        self.applied = False

    def uninstrument(self) -> None:
        self.cancelled = True
        super().uninstrument()


_handle: _Handle | None = None
_hook_registered = False
_defaults = Attribution()
_chain: ContextVar[_Chain | None] = ContextVar("genops_litellm_chain", default=None)


def auto_instrument(
    team: str | None = None,
    project: str | None = None,
    customer_id: str | None = None,
    user_id: str | None = None,
    **custom: Any,
) -> Instrumentation | None:
    """Govern every LiteLLM call, charged by default to the given team/project/customer/user
    and custom attributes (a `GenOps.track` scope still wins where it sets a value).

    Idempotent: calling it again replaces the defaults. Returns None if LiteLLM is not installed.
    """
    global _defaults
    _defaults = Attribution().merged(team=team, project=project, customer_id=customer_id, user_id=user_id, **custom)
    return instrument()


def instrument(settings: Settings | None = None) -> Instrumentation | None:
    """Patch LiteLLM (idempotent), now or when it is first imported. None if it is not installed."""
    global _handle, _hook_registered
    if _handle is not None and not _handle.cancelled:
        return _handle
    if "litellm" not in sys.modules and importlib.util.find_spec("litellm") is None:
        return None
    track_embeddings = settings.provider("litellm").track_embeddings if settings is not None else True
    _handle = _Handle(track_embeddings)
    if "litellm" in sys.modules:
        _apply(sys.modules["litellm"])
    elif not _hook_registered:
        import wrapt

        _hook_registered = True
        wrapt.register_post_import_hook(_apply, "litellm")
    return _handle


def _apply(module: Any) -> None:
    handle = _handle
    if handle is None or handle.cancelled or handle.applied:
        return
    handle.applied = True
    for name, kind, is_async in ENTRY_POINTS:
        if kind == "embeddings" and not handle.track_embeddings:
            continue
        handle.wrap(module, name, (_async_wrapper if is_async else _sync_wrapper)(kind))
    meter.patch_cohere(handle)


# -- one request -------------------------------------------------------------------------------


class _Request:
    """What a LiteLLM call asks for, as GenOps governs it."""

    __slots__ = ("args", "asked", "kind", "kwargs", "model", "provider", "stream")

    def __init__(self, kind: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.kind = kind
        self.args = args
        self.kwargs = kwargs
        self.asked = args[0] if args else kwargs.get("model")
        self.provider, self.model = meter.provider_for(
            str(self.asked), kwargs.get("custom_llm_provider"), kwargs.get("api_base") or kwargs.get("base_url")
        )
        self.stream = bool(kwargs.get("stream")) and kind == "chat"

    def start_args(self) -> dict[str, Any]:
        kwargs = self.kwargs
        max_out = (kwargs.get("max_completion_tokens") or kwargs.get("max_tokens")) if self.kind == "chat" else 0
        return {
            "framework": True,
            "cross_provider": True,  # a policy fallback may pick another provider's model
            "stream": self.stream,
            "max_output_tokens": max_out,
            "estimate_input": lambda: meter.estimate_input(self.kind, kwargs),
            "attribution": current().under(_defaults),
        }

    def call_args(self, call: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The arguments for LiteLLM: the request's, or with the model a policy substituted."""
        substituted = getattr(call, "model", None)
        if not substituted or substituted == self.model:
            return self.args, self.kwargs
        call.provider, _ = meter.provider_for(substituted)
        return self.args[1:], {**self.kwargs, "model": substituted}


def _request(kind: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Request | None:
    request = None
    with guarded("litellm.request"):
        request = _Request(kind, args, kwargs)
    return request


def _note(exc: BaseException) -> None:
    chain = _chain.get()
    if chain is not None:
        chain.errors.append(exc)


def _stream_or_finish(call: Any, request: _Request, result: Any, stream_type: type) -> Any:
    if request.stream:
        call.release()
        return stream_type(result, call, meter.StreamMeter(request.kwargs))
    usage, model = Usage.unavailable(), None
    with guarded("litellm.finish"):
        usage, model = meter.response_usage(request.kind, result)
    if type(call) is pipeline.NestedCall and call.outer.nested is not None:
        call.done = True  # inside another framework call, a layer below LiteLLM handed over the provider's figures
    else:
        call.finish(usage, model)
    return result


def _sync_wrapper(kind: str) -> Callable[..., Any]:
    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if kind == "chat" and _is_chain(kwargs):
            return _run_chain(wrapped, args, kwargs)
        request = _request(kind, args, kwargs)
        if request is None:
            return wrapped(*args, **kwargs)
        try:
            call = pipeline.start(request.provider, kind, request.model, **request.start_args())
        except PolicyViolationError as exc:
            _note(exc)
            raise
        if call is None:
            return wrapped(*args, **kwargs)
        call_args, call_kwargs = request.call_args(call)
        try:
            result = wrapped(*call_args, **call_kwargs)
        except BaseException as exc:
            call.fail(exc)
            _note(exc)
            raise
        return _stream_or_finish(call, request, result, SyncStream)

    return wrapper


def _async_wrapper(kind: str) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if kind == "chat" and _is_chain(kwargs):
            return await _run_chain_async(wrapped, args, kwargs)
        request = _request(kind, args, kwargs)
        if request is None:
            return await wrapped(*args, **kwargs)
        try:
            call = await pipeline.start_async(request.provider, kind, request.model, **request.start_args())
        except PolicyViolationError as exc:
            _note(exc)
            raise
        if call is None:
            return await wrapped(*args, **kwargs)
        call_args, call_kwargs = request.call_args(call)
        try:
            result = await wrapped(*call_args, **call_kwargs)
        except BaseException as exc:
            call.fail(exc)
            _note(exc)
            raise
        return _stream_or_finish(call, request, result, AsyncStream)

    return wrapper


# -- fallback chains ---------------------------------------------------------------------------


class _Chain:
    """The outcomes of the attempts of one `fallbacks=[...]` call (attempts run inside it)."""

    __slots__ = ("errors",)

    def __init__(self) -> None:
        self.errors: list[BaseException] = []

    def all_refused(self) -> PolicyViolationError | None:
        """The last refusal, if every attempt was refused by a policy."""
        if self.errors and all(isinstance(e, PolicyViolationError) for e in self.errors):
            return self.errors[-1]  # type: ignore[return-value]
        return None


def _is_chain(kwargs: dict[str, Any]) -> bool:
    """A call LiteLLM will split into attempts (each then comes back through `acompletion`)."""
    if kwargs.get("fallbacks"):
        return True
    module = sys.modules.get("litellm")
    return bool(getattr(module, "model_fallbacks", None)) and _chain.get() is None


def _run_chain(wrapped: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    chain = _Chain()
    token = _chain.set(chain)
    try:
        if _loop_running():
            # LiteLLM would run the chain on a worker thread without this context (attribution,
            # trace parent); run it on one that has it (LiteLLM then needs no thread of its own).
            ctx = contextvars.copy_context()
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="genops-litellm") as pool:
                return pool.submit(ctx.run, wrapped, *args, **kwargs).result()
        return wrapped(*args, **kwargs)
    except Exception as exc:
        refused = chain.all_refused()
        if refused is None:
            raise
        raise refused from exc
    finally:
        _chain.reset(token)


async def _run_chain_async(wrapped: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    chain = _Chain()
    token = _chain.set(chain)
    try:
        return await wrapped(*args, **kwargs)
    except Exception as exc:
        refused = chain.all_refused()
        if refused is None:
            raise
        raise refused from exc
    finally:
        _chain.reset(token)


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
