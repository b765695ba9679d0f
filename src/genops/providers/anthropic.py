"""Anthropic: every client (Anthropic, AsyncAnthropic, Bedrock, Vertex, subclasses) is governed.

The patch sits on the SDK's shared request method (`request`, see _stainless.py), which `messages.create` (sync, async,
`stream=True`), the `messages.stream(...)` helpers (their managers call it when entered),
`messages.parse`, `beta.messages.*` and `with_raw_response` all go through. Only
`POST /v1/messages` is governed (token counting and batches are not model calls).

Usage follows the OTel GenAI conventions: `input_tokens` counts every input token, i.e.
Anthropic's `input_tokens + cache_read_input_tokens + cache_creation_input_tokens`; the cache
parts are `cached_input_tokens` (read) and `cache_write_tokens` (creation), priced as such.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..config import Settings
from ..events import Usage
from . import _estimate
from ._patch import Instrumentation
from ._stainless import Adapter, instrument_clients

PROVIDER = "anthropic"
MESSAGES_PATH = "/v1/messages"

_instrumentation: Instrumentation | None = None


def instrument(settings: Settings | None = None) -> Instrumentation | None:
    """Patch the Anthropic SDK (idempotent). Returns None when `anthropic` is not installed."""
    global _instrumentation
    try:
        import anthropic._base_client as base
    except ImportError:
        return None
    if _instrumentation is not None and _instrumentation.active:
        return _instrumentation
    adapter = Adapter(PROVIDER, {MESSAGES_PATH: "chat"}, lambda client: PROVIDER, _begin_args, _usage,
                      lambda kind, body: _StreamMeter(body))
    _instrumentation = instrument_clients(base, adapter)
    return _instrumentation


# -- request side ------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """Prompt text of a `system` value or message content (SDK sentinels count as absent)."""
    return _estimate.content_text(value) if isinstance(value, (str, list, tuple)) else ""


def _estimate_input(body: dict[str, Any]) -> Callable[[], int]:
    def estimate() -> int:
        messages = body.get("messages")
        if not isinstance(messages, (list, tuple)):  # never consume a one-shot iterable
            messages = []
        return _estimate.messages_tokens(messages) + _estimate.text_tokens(_text(body.get("system")))

    return estimate


def _begin_args(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    max_tokens = body.get("max_tokens")
    return {
        "stream": bool(body.get("stream")),
        "max_output_tokens": max_tokens if isinstance(max_tokens, int) else None,
        "estimate_input": _estimate_input(body),
    }


# -- response side -----------------------------------------------------------------------------


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _usage(kind: str, usage: Any) -> Usage:
    return usage_from(usage)


def usage_from(usage: Any, output_tokens: int | None = None) -> Usage:
    """Map an Anthropic `usage` object to a `Usage` (OTel GenAI input-token convention).

    `output_tokens`, when given, replaces the object's own figure (streams report the final
    output count in the last `message_delta`).
    """
    if usage is None:
        return Usage.unavailable()
    uncached = _get(usage, "input_tokens") or 0
    read = _get(usage, "cache_read_input_tokens") or 0
    written = _get(usage, "cache_creation_input_tokens") or 0
    out = _get(usage, "output_tokens") if output_tokens is None else output_tokens
    thinking = _get(_get(usage, "output_tokens_details"), "thinking_tokens") or 0
    return Usage(
        input_tokens=uncached + read + written,
        output_tokens=out,
        cached_input_tokens=read,
        cache_write_tokens=written,
        reasoning_tokens=thinking,
    )


class _StreamMeter:
    """Input and cache figures from `message_start`, the output count from the last
    `message_delta` (whose non-null input/cache figures, sent by newer API versions, win);
    an estimate from the request and the streamed text when the stream reported nothing."""

    __slots__ = ("body", "chars", "delta_usage", "model", "start_usage")

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.start_usage: Any = None
        self.delta_usage: Any = None
        self.model: str | None = None
        self.chars = 0

    def on_item(self, item: Any) -> None:
        kind = getattr(item, "type", None)
        if kind == "content_block_delta":
            text = getattr(getattr(item, "delta", None), "text", None)
            if isinstance(text, str):
                self.chars += len(text)
        elif kind == "message_start":
            message = getattr(item, "message", None)
            self.model = getattr(message, "model", None) or self.model
            self.start_usage = getattr(message, "usage", None)
        elif kind == "message_delta" and getattr(item, "usage", None) is not None:
            self.delta_usage = item.usage

    def result(self) -> tuple[Usage, str | None]:
        start, delta = self.start_usage, self.delta_usage
        if start is None and delta is None:
            inp = _estimate_input(self.body)()
            out = -(-self.chars // _estimate.CHARS_PER_TOKEN)
            return Usage(input_tokens=inp, output_tokens=out, provenance="estimated"), self.model
        merged: dict[str, Any] = {}
        for source in (start, delta):
            for name in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "output_tokens"):
                value = _get(source, name)
                if value is not None:
                    merged[name] = value
            details = _get(source, "output_tokens_details")
            if details is not None:
                merged["output_tokens_details"] = details
        if delta is None:  # the stream stopped before its final count: estimate the output
            streamed = -(-self.chars // _estimate.CHARS_PER_TOKEN)
            usage = usage_from(merged, output_tokens=max(merged.get("output_tokens") or 0, streamed))
            return replace(usage, provenance="estimated"), self.model
        return usage_from(merged), self.model
