"""OpenAI: every client (OpenAI, AsyncOpenAI, Azure, subclasses) is governed.

The patch sits on the SDK's shared request method (`request`, see _stainless.py), so `chat.completions.create`,
`.parse`, `.stream`, `with_raw_response`, `embeddings.create` and `responses.create` (sync,
async, streaming) all pass through one place. Other endpoints are not touched.
"""

from __future__ import annotations

from typing import Any

from ..config import Settings
from ..events import Usage
from . import _estimate
from ._patch import Instrumentation
from ._stainless import Adapter, instrument_clients

ENDPOINTS = {"/chat/completions": "chat", "/embeddings": "embeddings", "/responses": "responses"}

_instrumentation: Instrumentation | None = None


def instrument(settings: Settings | None = None) -> Instrumentation | None:
    """Patch the OpenAI SDK (idempotent). Returns None when `openai` is not installed."""
    global _instrumentation
    try:
        import openai._base_client as base
    except ImportError:
        return None
    if _instrumentation is not None and _instrumentation.active:
        return _instrumentation
    track_embeddings = settings.provider("openai").track_embeddings if settings is not None else True
    kinds = {p: k for p, k in ENDPOINTS.items() if track_embeddings or k != "embeddings"}
    adapter = Adapter("openai", kinds, _provider, _begin_args, usage_from, _meter)
    _instrumentation = instrument_clients(base, adapter)
    return _instrumentation


# -- request side ------------------------------------------------------------------------------


def _provider(client: Any) -> str:
    return "azure" if type(client).__name__.startswith("Azure") else "openai"


def _begin_args(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    if kind == "chat":
        max_out = body.get("max_completion_tokens") or body.get("max_tokens")
        estimate = lambda: _estimate.messages_tokens(body.get("messages"))
    elif kind == "responses":
        max_out = body.get("max_output_tokens")
        estimate = lambda: _estimate.text_tokens(_estimate.content_text(body.get("input")))
    else:
        max_out = 0
        estimate = lambda: _estimate.text_tokens(_estimate.content_text(body.get("input")))
    return {"stream": bool(body.get("stream")), "max_output_tokens": max_out, "estimate_input": estimate}


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def usage_from(kind: str, usage: Any) -> Usage:
    """Map an OpenAI usage object (chat, embeddings or responses flavour) to a `Usage`."""
    if usage is None:
        return Usage.unavailable()
    if kind == "responses":
        inp, out = _get(usage, "input_tokens"), _get(usage, "output_tokens")
        in_details, out_details = _get(usage, "input_tokens_details"), _get(usage, "output_tokens_details")
    else:
        inp, out = _get(usage, "prompt_tokens"), _get(usage, "completion_tokens")
        in_details, out_details = _get(usage, "prompt_tokens_details"), _get(usage, "completion_tokens_details")
    return Usage(
        input_tokens=inp,
        output_tokens=out if kind != "embeddings" else 0,
        cached_input_tokens=_get(in_details, "cached_tokens") or 0,
        reasoning_tokens=_get(out_details, "reasoning_tokens") or 0,
    )


def _meter(kind: str, body: dict[str, Any]) -> _StreamMeter:
    return _StreamMeter(kind, body)


class _StreamMeter:
    """Reads usage from the final chunk (chat with include_usage; responses' completed event);
    otherwise estimates from the request and the streamed text."""

    __slots__ = ("body", "chars", "kind", "model", "usage")

    def __init__(self, kind: str, body: dict[str, Any]) -> None:
        self.kind = kind
        self.body = body
        self.usage: Any = None
        self.model: str | None = None
        self.chars = 0

    def on_item(self, item: Any) -> None:
        if self.kind == "responses":
            response = getattr(item, "response", None)
            if response is not None:
                self.model = getattr(response, "model", None) or self.model
                if getattr(response, "usage", None) is not None:
                    self.usage = response.usage
            delta = getattr(item, "delta", None)
            if isinstance(delta, str):
                self.chars += len(delta)
            return
        self.model = getattr(item, "model", None) or self.model
        if getattr(item, "usage", None) is not None:
            self.usage = item.usage
        for choice in getattr(item, "choices", None) or ():
            delta = getattr(choice, "delta", None)
            content = getattr(delta, "content", None)
            if content:
                self.chars += len(content)

    def result(self) -> tuple[Usage, str | None]:
        if self.usage is not None:
            return usage_from(self.kind, self.usage), self.model
        if self.kind == "responses":
            inp = _estimate.text_tokens(_estimate.content_text(self.body.get("input")))
        else:
            inp = _estimate.messages_tokens(self.body.get("messages"))
        out = -(-self.chars // _estimate.CHARS_PER_TOKEN)
        return Usage(input_tokens=inp, output_tokens=out, provenance="estimated"), self.model
