"""LlamaIndex's instrumentation dispatcher: GenOps framework calls for the LLM and embedding
calls of models whose provider SDK GenOps does not govern (see `genops.providers.llamaindex`)."""

from __future__ import annotations

import logging
import threading
from contextvars import ContextVar
from typing import Any

from .. import pipeline
from .._guard import guarded
from ..errors import PolicyViolationError
from ..events import Usage
from . import _estimate

logger = logging.getLogger("genops")

HANDLER_NAME = "genops"

# LlamaIndex integration packages -> the GenOps SDK integration that governs their requests.
SDK_GOVERNED = {
    "llama_index.llms.openai": "openai",
    "llama_index.llms.azure_openai": "openai",
    "llama_index.llms.openai_like": "openai",
    "llama_index.embeddings.openai": "openai",
    "llama_index.embeddings.azure_openai": "openai",
    "llama_index.llms.anthropic": "anthropic",
    "llama_index.llms.cohere": "cohere",
    "llama_index.embeddings.cohere": "cohere",
    "llama_index.llms.litellm": "litellm",
    "llama_index.embeddings.litellm": "litellm",
}

# A policy block the dispatcher could not raise, waiting for the "genops" global handler.
pending_block: ContextVar[PolicyViolationError | None] = ContextVar("genops_llamaindex_block", default=None)

_INPUT_ESTIMATE = "llamaindex.input_estimate"  # in Call.extra; also marks a LlamaIndex framework call


class _Calls:
    """Framework calls in flight, keyed by LlamaIndex span id (a batch span may hold several)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_span: dict[str, list[Any]] = {}
        self._models: dict[str, tuple[Any, str | None]] = {}  # span id -> (model instance, parent span id)

    def remember(self, span_id: str, instance: Any, parent_id: str | None) -> None:
        with self._lock:
            self._models[span_id] = (instance, parent_id)

    def forget(self, span_id: str) -> None:
        with self._lock:
            self._models.pop(span_id, None)

    def model(self, span_id: str | None) -> tuple[Any, str | None]:
        return self._models.get(span_id or "", (None, None))

    def pending(self, span_id: str | None) -> list[Any]:
        return self._by_span.get(span_id or "", [])

    def add(self, span_id: str, call: Any) -> None:
        with self._lock:
            self._by_span.setdefault(span_id, []).append(call)

    def pop(self, span_id: str | None) -> Any:
        with self._lock:
            calls = self._by_span.get(span_id or "")
            if not calls:
                return None
            call = calls.pop(0)
            if not calls:
                del self._by_span[span_id or ""]
            return call

    def pop_all(self, span_id: str | None) -> list[Any]:
        with self._lock:
            return self._by_span.pop(span_id or "", [])


_calls = _Calls()


def _governing_integration(model: Any) -> str | None:
    """The GenOps SDK integration that governs this LlamaIndex model's requests, if active."""
    for cls in type(model).__mro__:
        module = cls.__module__
        for prefix, integration in SDK_GOVERNED.items():
            if module == prefix or module.startswith(prefix + "."):
                from .._runtime import get_runtime

                rt = get_runtime()
                handles = rt.instrumentations if rt is not None else ()
                governed = any(getattr(h, "name", None) == integration and getattr(h, "active", False) for h in handles)
                return integration if governed else None
    return None


def _provider_of(model: Any) -> str:
    parts = type(model).__module__.split(".")
    if len(parts) > 2 and parts[0] == "llama_index" and parts[1] in ("llms", "embeddings"):
        return parts[2]
    return "llamaindex"


def _model_name(model: Any, model_dict: dict[str, Any] | None) -> str | None:
    for source in (model_dict or {}, {"model": getattr(model, "model", None), "model_name": getattr(model, "model_name", None)}):
        for key in ("model", "model_name"):
            value = source.get(key)
            if isinstance(value, str) and value:
                return value
    return None


def _is_stream_span(span_id: str | None) -> bool:
    method = (span_id or "")[:-37].rsplit(".", 1)[-1]  # "<Class>.<method>-<uuid4>"
    return method.startswith(("stream_", "astream_"))


def make_event_handler() -> Any:
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler
    from llama_index.core.instrumentation.events.embedding import EmbeddingEndEvent, EmbeddingStartEvent
    from llama_index.core.instrumentation.events.exception import ExceptionEvent
    from llama_index.core.instrumentation.events.llm import (
        LLMChatEndEvent,
        LLMChatInProgressEvent,
        LLMChatStartEvent,
        LLMCompletionEndEvent,
        LLMCompletionInProgressEvent,
        LLMCompletionStartEvent,
    )

    starts: dict[type, str] = {LLMChatStartEvent: "chat", LLMCompletionStartEvent: "text_completion", EmbeddingStartEvent: "embeddings"}
    ends = (LLMChatEndEvent, LLMCompletionEndEvent)
    in_progress = (LLMChatInProgressEvent, LLMCompletionInProgressEvent)

    class GenOpsEventHandler(BaseEventHandler):  # type: ignore[misc]
        """Opens and closes GenOps framework calls from LlamaIndex's LLM and embedding events."""

        @classmethod
        def class_name(cls) -> str:
            return "GenOpsEventHandler"

        def handle(self, event: Any, **kwargs: Any) -> None:
            kind = starts.get(type(event))
            if kind is not None:
                pending_block.set(None)
                try:
                    _start(event, kind)
                except PolicyViolationError as block:
                    pending_block.set(block)  # raised by the "genops" global handler, if installed
            elif isinstance(event, ends):
                _warn_if_not_stopped()
                with guarded("llamaindex.end"):
                    _finish_llm(event)
            elif isinstance(event, EmbeddingEndEvent):
                _warn_if_not_stopped()
                with guarded("llamaindex.end"):
                    _finish_embedding(event)
            elif isinstance(event, in_progress):
                with guarded("llamaindex.progress"):
                    for call in _calls.pending(event.span_id):
                        if type(call) is pipeline.Call:
                            call.stream = True
            elif isinstance(event, ExceptionEvent):
                with guarded("llamaindex.exception"):
                    _fail(event.span_id, event.exception)

    return GenOpsEventHandler()


def make_span_handler() -> Any:
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.base.llms.base import BaseLLM
    from llama_index.core.instrumentation.span_handlers import BaseSpanHandler

    models = (BaseLLM, BaseEmbedding)

    class GenOpsSpanHandler(BaseSpanHandler):  # type: ignore[misc,type-arg]
        """Remembers which model each LLM / embedding span belongs to, and fails the calls of a
        span that raised."""

        @classmethod
        def class_name(cls) -> str:
            return "GenOpsSpanHandler"

        def span_enter(self, id_: str, bound_args: Any, instance: Any = None, parent_id: str | None = None, tags: Any = None, **kwargs: Any) -> None:
            if isinstance(instance, models):
                _calls.remember(id_, instance, parent_id)

        def span_exit(self, id_: str, bound_args: Any, instance: Any = None, result: Any = None, **kwargs: Any) -> None:
            if isinstance(instance, models):
                _calls.forget(id_)

        def span_drop(self, id_: str, bound_args: Any, instance: Any = None, err: BaseException | None = None, **kwargs: Any) -> None:
            if isinstance(instance, models):
                _calls.forget(id_)
                with guarded("llamaindex.drop"):
                    _fail(id_, err)

        def new_span(self, *args: Any, **kwargs: Any) -> None:
            return None

        def prepare_to_exit_span(self, *args: Any, **kwargs: Any) -> None:
            return None

        def prepare_to_drop_span(self, *args: Any, **kwargs: Any) -> None:
            return None

    return GenOpsSpanHandler()


def _warn_if_not_stopped() -> None:
    block = pending_block.get()
    if block is not None:
        pending_block.set(None)
        logger.warning(
            "GenOps: policy %r blocked a LlamaIndex call, but LlamaIndex called the model anyway (its "
            "dispatcher discards handler exceptions); set_global_handler(%r) before creating the "
            "model lets GenOps stop it", block.policy, HANDLER_NAME,
        )


def _start(event: Any, kind: str) -> None:
    span_id = event.span_id
    model, parent_id = _calls.model(span_id)
    if model is None or _governing_integration(model) is not None:
        return  # the SDK layer meters and guards it
    if _calls.pending(parent_id) or _inside_llamaindex_call():
        return  # e.g. a CustomLLM's chat answered by its own complete(): the outer call covers it
    prepared: dict[str, Any] | None = None
    with guarded("llamaindex.start"):
        if kind == "chat":
            estimate = _estimate.messages_tokens(event.messages)
        elif kind == "text_completion":
            estimate = _estimate.text_tokens(event.prompt)
        else:
            estimate = 0
        detached = kind == "embeddings" or _is_stream_span(span_id)
        prepared = {"framework": True, "stream": _is_stream_span(span_id), "estimate_input": lambda: estimate,
                    "max_output_tokens": 0 if kind == "embeddings" else getattr(model, "max_tokens", None)}
        provider, name = _provider_of(model), _model_name(model, getattr(event, "model_dict", None))
    if prepared is None:
        return
    if detached:
        # Streams are read, and embedding batches sent, possibly elsewhere and concurrently:
        # such a call is not left in flight in this context for SDK calls to nest into.
        with pipeline.outside_calls():
            call = pipeline.start(provider, kind, name, **prepared)
            if call is not None:
                call.release()
    else:
        call = pipeline.start(provider, kind, name, **prepared)
    if call is not None:
        if type(call) is pipeline.Call:
            call.extra[_INPUT_ESTIMATE] = prepared["estimate_input"]()
        _calls.add(span_id, call)


def _inside_llamaindex_call() -> bool:
    active = pipeline.active_call()
    return active is not None and _INPUT_ESTIMATE in active.extra


def _finish_llm(event: Any) -> None:
    call = _calls.pop(event.span_id)
    if call is None:
        return
    response = event.response
    usage = usage_from_response(response)
    if usage is None:
        text = getattr(getattr(response, "message", None), "content", None) or getattr(response, "text", None) or ""
        usage = Usage(input_tokens=_input_estimate(call), output_tokens=_estimate.text_tokens(str(text)), provenance="estimated")
    call.finish(usage, _response_model(response))


def _finish_embedding(event: Any) -> None:
    call = _calls.pop(event.span_id)
    if call is None:
        return
    tokens = sum(_estimate.text_tokens(chunk) for chunk in event.chunks or ())
    call.finish(Usage(input_tokens=tokens, output_tokens=0, provenance="estimated"))


def _fail(span_id: str | None, error: BaseException | None) -> None:
    for call in _calls.pop_all(span_id):
        if isinstance(error, GeneratorExit):
            call.finish_incomplete(Usage(input_tokens=_input_estimate(call), output_tokens=0, provenance="estimated"))
        else:
            call.fail(error or RuntimeError("LlamaIndex call failed"))


def _input_estimate(call: Any) -> int:
    extra = getattr(call, "extra", None) or {}
    return int(extra.get(_INPUT_ESTIMATE) or 0)


def _get(obj: Any, *names: str) -> Any:
    for name in names:
        value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
        if value is not None:
            return value
    return None


def usage_from_response(response: Any) -> Usage | None:
    """Token usage a LlamaIndex `ChatResponse` / `CompletionResponse` carries, or None: OpenAI
    style `prompt_tokens`/`completion_tokens` in `additional_kwargs`, or a `usage` object on
    the raw response (`prompt_tokens` or `input_tokens` flavour), or Ollama's eval counts."""
    if response is None:
        return None
    extra = getattr(response, "additional_kwargs", None) or {}
    if extra.get("prompt_tokens") is not None:
        return Usage(input_tokens=extra["prompt_tokens"], output_tokens=extra.get("completion_tokens") or 0)
    raw = getattr(response, "raw", None)
    usage = _get(raw, "usage") if raw is not None else None
    inp = _get(usage, "prompt_tokens", "input_tokens") if usage is not None else None
    if inp is not None:
        return Usage(input_tokens=inp, output_tokens=_get(usage, "completion_tokens", "output_tokens") or 0)
    if raw is not None and _get(raw, "prompt_eval_count") is not None:
        return Usage(input_tokens=_get(raw, "prompt_eval_count"), output_tokens=_get(raw, "eval_count") or 0)
    return None


def _response_model(response: Any) -> str | None:
    raw = getattr(response, "raw", None)
    value = _get(raw, "model") if raw is not None else None
    return value if isinstance(value, str) else None
