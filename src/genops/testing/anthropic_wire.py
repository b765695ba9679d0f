"""Anthropic Messages wire format: ``POST /v1/messages`` (JSON and SSE), token counting,
error bodies.

Usage maps verbatim: ``input_tokens`` (excludes cached prompt tokens, as the real API),
``cache_creation_input_tokens``, ``cache_read_input_tokens`` (= the plan's cached tokens),
``output_tokens``. In streams ``message_start`` carries input and cache figures with
``output_tokens: 1`` and the final ``message_delta`` carries only ``output_tokens``, as in
the recordings; SSE payloads keep Anthropic's trailing padding spaces.
"""

from __future__ import annotations

from typing import Any

from . import _recorded
from ._common import JsonReply, Reply, ReplyContext, StreamReply, UsagePlan, reply_words, sse, text_chars

PROVIDER = "anthropic"

_STREAM = "anthropic-prompt-caching-stream-1"
_MESSAGE: dict[str, Any] = _recorded.body("anthropic-prompt-caching-1")
_TEXT_BLOCK: dict[str, Any] = _MESSAGE["content"][0]
_START: dict[str, Any] = _recorded.first_event(_STREAM, "message_start")
_BLOCK_START: dict[str, Any] = _recorded.first_event(_STREAM, "content_block_start")
_BLOCK_DELTA: dict[str, Any] = _recorded.first_event(_STREAM, "content_block_delta")
_BLOCK_STOP: dict[str, Any] = _recorded.first_event(_STREAM, "content_block_stop")
_MESSAGE_DELTA: dict[str, Any] = _recorded.first_event(_STREAM, "message_delta")
_MESSAGE_STOP: dict[str, Any] = _recorded.first_event(_STREAM, "message_stop")
_PING = b'event: ping\ndata: {"type": "ping"}\n\n'


def _pad(i: int) -> int:
    """Deterministic stand-in for the varying padding before the closing brace."""
    return (i * 5) % 15


def messages_usage(plan: UsagePlan, output_tokens: int | None = None) -> dict[str, Any]:
    """Messages API ``usage`` object (the four flat fields of the recordings)."""
    return {
        "input_tokens": plan.input_tokens,
        "cache_creation_input_tokens": plan.cache_creation_tokens,
        "cache_read_input_tokens": plan.cached_tokens,
        "output_tokens": plan.output_tokens if output_tokens is None else output_tokens,
    }


def _input_chars(req: dict[str, Any]) -> int:
    return text_chars(req.get("messages")) + text_chars(req.get("system"))


def messages(req: dict[str, Any], ctx: ReplyContext) -> Reply:
    """``POST /v1/messages``."""
    model = req.get("model")
    plan = ctx.plan(model, _input_chars(req), req.get("max_tokens"))
    message_id = ctx.new_id("msg_01", 22)
    response_model = ctx.response_model(str(model))
    stop_reason = "max_tokens" if plan.truncated else "end_turn"
    words = reply_words(plan.output_tokens)
    if req.get("stream"):
        return StreamReply(_events(message_id, response_model, stop_reason, words, plan))
    body = {
        **_MESSAGE,
        "id": message_id,
        "model": response_model,
        "content": [{**_TEXT_BLOCK, "text": "".join(words)}],
        "stop_reason": stop_reason,
        "usage": messages_usage(plan),
    }
    return JsonReply(body)


def _events(message_id: str, model: str, stop_reason: str, words: tuple[str, ...], plan: UsagePlan) -> list[bytes]:
    start_message = {**_START["message"], "id": message_id, "model": model, "usage": messages_usage(plan, 1)}
    events = [
        sse({**_START, "message": start_message}, "message_start", _pad(0)),
        sse({**_BLOCK_START, "index": 0}, "content_block_start"),
        _PING,
    ]
    for i, word in enumerate(words):
        delta = {**_BLOCK_DELTA, "index": 0, "delta": {**_BLOCK_DELTA["delta"], "text": word}}
        events.append(sse(delta, "content_block_delta", _pad(i + 1)))
    events.append(sse({**_BLOCK_STOP, "index": 0}, "content_block_stop", _pad(len(words) + 1)))
    final_delta = {
        **_MESSAGE_DELTA,
        "delta": {**_MESSAGE_DELTA["delta"], "stop_reason": stop_reason},
        "usage": {"output_tokens": plan.output_tokens},
    }
    events.append(sse(final_delta, "message_delta", _pad(len(words) + 2)))
    events.append(sse(_MESSAGE_STOP, "message_stop", _pad(len(words) + 3)))
    return events


def count_tokens(req: dict[str, Any], ctx: ReplyContext) -> Reply:
    """``POST /v1/messages/count_tokens``."""
    plan = ctx.plan(req.get("model"), _input_chars(req), None)
    return JsonReply({"input_tokens": plan.input_tokens})


_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request (injected by the stand-in server)."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "The requested resource could not be found."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."),
    529: ("overloaded_error", "Overloaded"),
}


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    """Anthropic's error JSON: ``{"type": "error", "error": {"type", "message"}}``."""
    type_, text = _ERRORS.get(status, ("api_error", "Internal server error"))
    return {"type": "error", "error": {"type": type_, "message": message or text}}
