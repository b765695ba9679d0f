"""LlamaIndex: GenOps attaches to LlamaIndex's instrumentation dispatcher, and registers the
`"genops"` global handler name, so the case study's lines work as written:

    GenOps.init(config_path="genops.yaml")
    from llama_index.core import set_global_handler
    set_global_handler("genops")

Each LlamaIndex LLM or embedding call is one governed event per provider call:

- Models that talk through an SDK GenOps governs (OpenAI, Anthropic, Cohere, LiteLLM: the
  `llama-index-llms-*` / `llama-index-embeddings-*` packages built on them) are metered and
  guarded at that SDK layer, with the provider's exact usage, in whatever context the request
  runs (streams read later, async embedding batches sent concurrently) and with the attribution
  of the enclosing `GenOps.track` scope. The dispatcher leaves them alone.
- Other models (a local model, a provider without a GenOps integration) are metered from the
  dispatcher's events as framework-level calls: LLMChatStart/End, LLMCompletionStart/End (usage
  from the response when it carries some, else estimated), EmbeddingStart/End (estimated from
  the chunks), failures from the span drop or exception event. An SDK call GenOps governs
  made inside such a call nests into it (one event).

LlamaIndex's dispatcher discards exceptions raised by handlers, so a policy block on a model
of the second kind is raised through the `"genops"` global handler (LlamaIndex's callback
manager does let it through) and stops the call; without that handler the block is recorded
and logged, but LlamaIndex calls the model anyway.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

from .._guard import guarded
from ..config import Settings
from ._llamaindex_dispatch import (
    HANDLER_NAME,
    SDK_GOVERNED,
    make_event_handler,
    make_span_handler,
    pending_block,
    usage_from_response,
)
from ._patch import Instrumentation

__all__ = ["HANDLER_NAME", "SDK_GOVERNED", "LlamaIndexInstrumentation", "instrument", "usage_from_response"]

_instrumentation: LlamaIndexInstrumentation | None = None

def instrument(settings: Settings | None = None) -> LlamaIndexInstrumentation | None:
    """Attach to LlamaIndex's root dispatcher and register `set_global_handler("genops")`
    (idempotent), now or when `llama_index.core` is first imported (it is slow to import, so
    `GenOps.init` does not import it). Returns None when `llama-index-core` is not installed."""
    global _instrumentation, _hook_registered
    if _instrumentation is not None and not _instrumentation.cancelled:
        return _instrumentation
    if "llama_index.core" not in sys.modules:
        try:
            if importlib.util.find_spec("llama_index.core") is None:
                return None
        except ImportError:  # no `llama_index` namespace at all
            return None
    _instrumentation = LlamaIndexInstrumentation("llamaindex")
    if "llama_index.core" in sys.modules:
        _apply(sys.modules["llama_index.core"])
    elif not _hook_registered:
        import wrapt

        _hook_registered = True
        wrapt.register_post_import_hook(_apply, "llama_index.core")
    return _instrumentation


_hook_registered = False


def _apply(module: Any) -> None:
    inst = _instrumentation
    if inst is None or inst.cancelled or inst.applied:
        return
    inst.applied = True
    with guarded("llamaindex.instrument"):
        from llama_index.core.callbacks import global_handlers
        from llama_index.core.instrumentation import get_dispatcher

        inst.wrap(global_handlers, "create_global_handler", _create_global_handler)
        inst.attach(get_dispatcher(), make_event_handler(), make_span_handler())


class LlamaIndexInstrumentation(Instrumentation):
    """The `create_global_handler` patch plus GenOps' handlers on the root dispatcher."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._attached: list[tuple[list[Any], Any]] = []
        self.applied = False
        self.cancelled = False

    def attach(self, dispatcher: Any, event_handler: Any, span_handler: Any) -> None:
        dispatcher.add_event_handler(event_handler)
        dispatcher.add_span_handler(span_handler)
        self._attached += [(dispatcher.event_handlers, event_handler), (dispatcher.span_handlers, span_handler)]

    @property
    def active(self) -> bool:
        return not self.cancelled

    def uninstrument(self) -> None:
        self.cancelled = True
        super().uninstrument()
        while self._attached:
            handlers, handler = self._attached.pop()
            if handler in handlers:
                handlers.remove(handler)


def _create_global_handler(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    mode = args[0] if args else kwargs.get("eval_mode")
    if mode == HANDLER_NAME:
        params = {k: v for k, v in kwargs.items() if k != "eval_mode"}
        return _global_handler_class()(*args[1:], **params)
    return wrapped(*args, **kwargs)


def _make_global_handler_class() -> type:
    from llama_index.core.callbacks.base_handler import BaseCallbackHandler
    from llama_index.core.callbacks.schema import CBEventType

    guarded_types = (CBEventType.LLM, CBEventType.EMBEDDING)

    class GenOpsLlamaIndexHandler(BaseCallbackHandler):  # type: ignore[misc]
        """The `"genops"` global handler. Metering happens on the dispatcher and the SDK layer;
        this handler raises, in LlamaIndex's callback manager, a policy block the dispatcher
        could not raise, so the blocked call never reaches the model."""

        def __init__(self) -> None:
            super().__init__(event_starts_to_ignore=[], event_ends_to_ignore=[])

        def on_event_start(self, event_type: Any, payload: Any = None, event_id: str = "", parent_id: str = "", **kwargs: Any) -> str:
            if event_type in guarded_types:
                block = pending_block.get()
                if block is not None:
                    pending_block.set(None)
                    raise block
            return event_id

        def on_event_end(self, event_type: Any, payload: Any = None, event_id: str = "", **kwargs: Any) -> None:
            return None

        def start_trace(self, trace_id: str | None = None) -> None:
            return None

        def end_trace(self, trace_id: str | None = None, trace_map: Any = None) -> None:
            return None

    return GenOpsLlamaIndexHandler


_handler_class: type | None = None


def _global_handler_class() -> type:
    global _handler_class
    if _handler_class is None:
        _handler_class = _make_global_handler_class()
    return _handler_class


def __getattr__(name: str) -> Any:
    # `GenOpsLlamaIndexHandler` is built on first use, so importing this module never needs
    # llama-index-core (GenOps.init imports it to find out whether LlamaIndex is installed).
    if name == "GenOpsLlamaIndexHandler":
        return _global_handler_class()
    raise AttributeError(name)
