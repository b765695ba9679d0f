"""OpenAI Responses API wire format: ``POST /v1/responses``, JSON and SSE (``event:`` lines,
``sequence_number``, usage only in the final ``response.completed`` event)."""

from __future__ import annotations

from typing import Any

from . import _recorded
from ._common import JsonReply, Reply, ReplyContext, StreamReply, UsagePlan, reply_words, sse, text_chars
from .openai_wire import obfuscation

_STREAM = "openai-responses-streaming-2"
_RESPONSE: dict[str, Any] = _recorded.body("openai-responses-2")
_MESSAGE_ITEM: dict[str, Any] = _RESPONSE["output"][0]
_OUTPUT_TEXT: dict[str, Any] = _MESSAGE_ITEM["content"][0]
_EVENTS: dict[str, dict[str, Any]] = {
    name: _recorded.first_event(_STREAM, name)
    for name in (
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    )
}
_HEX = "0123456789abcdef"

# Request fields the real API echoes back in the response object.
_ECHOED = ("instructions", "max_output_tokens", "previous_response_id", "temperature", "top_p", "user", "store")


def responses_usage(plan: UsagePlan) -> dict[str, Any]:
    """Responses API ``usage`` object."""
    return {
        "input_tokens": plan.input_tokens,
        "input_tokens_details": {"cached_tokens": plan.cached_tokens},
        "output_tokens": plan.output_tokens,
        "output_tokens_details": {"reasoning_tokens": plan.reasoning_tokens},
        "total_tokens": plan.input_tokens + plan.output_tokens,
    }


def responses(req: dict[str, Any], ctx: ReplyContext) -> Reply:
    """``POST /v1/responses``; a reasoning item precedes the message when reasoning tokens > 0."""
    model = req.get("model")
    chars = text_chars(req.get("input")) + text_chars(req.get("instructions"))
    plan = ctx.plan(model, chars, req.get("max_output_tokens"))
    created = ctx.now()
    rid = ctx.new_id("resp_", 50, _HEX)
    message_id = ctx.new_id("msg_", 50, _HEX)
    reasoning_id = ctx.new_id("rs_", 50, _HEX) if plan.reasoning_tokens else None
    text = "".join(reply_words(plan.visible_tokens))
    echoed = {key: req[key] for key in _ECHOED if req.get(key) is not None}
    final: dict[str, Any] = {
        **_RESPONSE,
        "id": rid,
        "created_at": created,
        "completed_at": created,
        "model": ctx.response_model(str(model)),
        **echoed,
        "status": "incomplete" if plan.truncated else "completed",
        "incomplete_details": {"reason": "max_output_tokens"} if plan.truncated else None,
        "output": _output(reasoning_id, message_id, text),
        "metadata": req.get("metadata") or {},
        "usage": responses_usage(plan),
    }
    if not req.get("stream"):
        return JsonReply(final)
    return StreamReply(_events(final, reasoning_id, message_id, plan))


def _reasoning_item(item_id: str) -> dict[str, Any]:
    return {"id": item_id, "type": "reasoning", "summary": []}


def _message_item(item_id: str, text: str | None) -> dict[str, Any]:
    if text is None:
        return {**_MESSAGE_ITEM, "id": item_id, "status": "in_progress", "content": []}
    return {**_MESSAGE_ITEM, "id": item_id, "status": "completed", "content": [{**_OUTPUT_TEXT, "text": text}]}


def _output(reasoning_id: str | None, message_id: str, text: str) -> list[dict[str, Any]]:
    items = [_reasoning_item(reasoning_id)] if reasoning_id else []
    return items + [_message_item(message_id, text)]


def _events(final: dict[str, Any], reasoning_id: str | None, message_id: str, plan: UsagePlan) -> list[bytes]:
    in_progress = {**final, "status": "in_progress", "completed_at": None, "incomplete_details": None}
    in_progress.update(output=[], usage=None)
    words = reply_words(plan.visible_tokens)
    text = "".join(words)
    events: list[bytes] = []

    def emit(name: str, **fields: Any) -> None:
        template = _EVENTS.get(name, {"type": name})
        events.append(sse({**template, **fields, "sequence_number": len(events)}, event=name))

    emit("response.created", response=in_progress)
    emit("response.in_progress", response=in_progress)
    index = 0
    if reasoning_id:
        emit("response.output_item.added", item=_reasoning_item(reasoning_id), output_index=0)
        emit("response.output_item.done", item=_reasoning_item(reasoning_id), output_index=0)
        index = 1
    part = {**_OUTPUT_TEXT, "text": ""}
    ids = {"item_id": message_id, "output_index": index}
    emit("response.output_item.added", item=_message_item(message_id, None), output_index=index)
    emit("response.content_part.added", content_index=0, **ids, part=part)
    for i, word in enumerate(words):
        emit("response.output_text.delta", content_index=0, delta=word, **ids, obfuscation=obfuscation(i))
    emit("response.output_text.done", content_index=0, **ids, text=text)
    emit("response.content_part.done", content_index=0, **ids, part={**part, "text": text})
    emit("response.output_item.done", item=_message_item(message_id, text), output_index=index)
    last = "response.incomplete" if plan.truncated else "response.completed"
    emit(last, response=final)
    return events
