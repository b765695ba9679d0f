"""Cohere v2 wire format: ``/v2/chat`` (JSON and SSE), ``/v2/embed``, ``/v2/rerank``, errors.

Usage maps verbatim onto ``billed_units`` (what Cohere bills). ``usage.tokens`` differs from
the billed figures as in the recordings (7 billed vs 69 tokenized input, 88 vs 89 output):
the stand-in adds ``TEMPLATE_INPUT_TOKENS`` to input and 1 to output, so integrations that
price from ``tokens`` instead of ``billed_units`` get visibly wrong numbers.
"""

from __future__ import annotations

import math
from typing import Any

from . import _recorded
from ._common import (
    JsonReply,
    Reply,
    ReplyContext,
    StreamReply,
    UsagePlan,
    base64_floats,
    count_tokens,
    reply_words,
    sse,
    text_chars,
    unit_vector,
)

PROVIDER = "cohere"
TEMPLATE_INPUT_TOKENS = 62
"""Tokens Cohere adds for its prompt template (69 tokenized - 7 billed in the recording)."""

_STREAM = "cohere-v2-chat-streaming-1"
_CHAT: dict[str, Any] = _recorded.body("cohere-v2-chat-1")
_TEXT_PART: dict[str, Any] = _CHAT["message"]["content"][0]
_START: dict[str, Any] = _recorded.first_event(_STREAM, "message-start")
_CONTENT_START: dict[str, Any] = _recorded.first_event(_STREAM, "content-start")
_CONTENT_DELTA: dict[str, Any] = _recorded.first_event(_STREAM, "content-delta")
_CONTENT_END: dict[str, Any] = _recorded.first_event(_STREAM, "content-end")
_END: dict[str, Any] = _recorded.first_event(_STREAM, "message-end")
_EMBED: dict[str, Any] = _recorded.body("cohere-v2-embed-1")
_RERANK: dict[str, Any] = _recorded.body("cohere-v2-rerank-1")
_DONE = b"data: [DONE]\n\n"
_HEX = "0123456789abcdef"


def _uuid(ctx: ReplyContext) -> str:
    raw = ctx.new_id("", 32, _HEX)
    return f"{raw[:8]}-{raw[8:12]}-4{raw[13:16]}-a{raw[17:20]}-{raw[20:]}"


def chat_usage(plan: UsagePlan) -> dict[str, Any]:
    """Cohere v2 chat ``usage``: ``billed_units`` plus the (larger) raw ``tokens``."""
    usage: dict[str, Any] = {
        "billed_units": {"input_tokens": plan.input_tokens, "output_tokens": plan.output_tokens},
        "tokens": {
            "input_tokens": plan.input_tokens + TEMPLATE_INPUT_TOKENS,
            "output_tokens": plan.output_tokens + 1,
        },
    }
    if plan.cached_tokens:
        usage["cached_tokens"] = plan.cached_tokens
    return usage


def chat(req: dict[str, Any], ctx: ReplyContext) -> Reply:
    """``POST /v2/chat`` (``stream: true`` gives SSE with ``event:`` lines and ``[DONE]``)."""
    model = req.get("model")
    plan = ctx.plan(model, text_chars(req.get("messages")), req.get("max_tokens"))
    chat_id = _uuid(ctx)
    finish = "MAX_TOKENS" if plan.truncated else "COMPLETE"
    words = reply_words(plan.output_tokens)
    if req.get("stream"):
        return StreamReply(_events(chat_id, finish, words, plan))
    message = {**_CHAT["message"], "content": [{**_TEXT_PART, "text": "".join(words)}]}
    return JsonReply({**_CHAT, "id": chat_id, "message": message, "finish_reason": finish, "usage": chat_usage(plan)})


def _events(chat_id: str, finish: str, words: tuple[str, ...], plan: UsagePlan) -> list[bytes]:
    events = [sse({**_START, "id": chat_id}, "message-start"), sse(_CONTENT_START, "content-start")]
    for word in words:
        delta = {**_CONTENT_DELTA, "delta": {"message": {"content": {"text": word}}}}
        events.append(sse(delta, "content-delta"))
    events.append(sse(_CONTENT_END, "content-end"))
    end = {**_END, "delta": {**_END["delta"], "finish_reason": finish, "usage": chat_usage(plan)}}
    events.append(sse(end, "message-end"))
    events.append(_DONE)
    return events


def _embed_texts(req: dict[str, Any]) -> list[str]:
    texts = [t for t in req.get("texts") or [] if isinstance(t, str)]
    for item in req.get("inputs") or []:
        parts = item.get("content") if isinstance(item, dict) else None
        texts.append(" ".join(p.get("text", "") for p in parts or [] if isinstance(p, dict)))
    return texts


def _dimensions(req: dict[str, Any]) -> int:
    model = str(req.get("model"))
    if isinstance(req.get("output_dimension"), int):
        return int(req["output_dimension"])
    if "light" in model:
        return 384
    return 1536 if "v4" in model else 1024


def _encode(vector: tuple[float, ...], kind: str) -> Any:
    if kind == "int8":
        return [round(v * 127) for v in vector]
    if kind == "uint8":
        return [round((v + 1) * 127.5) for v in vector]
    if kind in ("binary", "ubinary"):
        bits = [1 if v > 0 else 0 for v in vector]
        packed = [int("".join(map(str, bits[i : i + 8])).ljust(8, "0"), 2) for i in range(0, len(bits), 8)]
        return [b - 128 for b in packed] if kind == "binary" else packed
    if kind == "base64":
        return base64_floats(vector)
    return list(vector)


def embed(req: dict[str, Any], ctx: ReplyContext) -> Reply:
    """``POST /v2/embed``: one vector per text for each requested ``embedding_types``."""
    texts = _embed_texts(req)
    dims = _dimensions(req)
    kinds = req.get("embedding_types") or ["float"]
    vectors = [unit_vector(text, dims) for text in texts]
    override = ctx.usage_for(req.get("model"))
    chars = sum(len(t) for t in texts)
    tokens = count_tokens(chars) if override is None or override.input_tokens is None else override.input_tokens
    body = {
        **_EMBED,
        "id": _uuid(ctx),
        "texts": texts,
        "embeddings": {kind: [_encode(v, kind) for v in vectors] for kind in kinds},
        "meta": {**_EMBED["meta"], "billed_units": {"input_tokens": tokens}},
    }
    return JsonReply(body)


def _relevance(query: str, document: str) -> float:
    words = set(query.lower().split())
    if not words:
        return 0.0
    overlap = len(words & set(document.lower().split())) / len(words)
    return round(0.01 + 0.98 * overlap, 7)


def rerank(req: dict[str, Any], ctx: ReplyContext) -> Reply:
    """``POST /v2/rerank``: documents ranked by word overlap with the query."""
    documents = [d if isinstance(d, str) else str(d) for d in req.get("documents") or []]
    query = str(req.get("query") or "")
    ranked = sorted(
        ({"index": i, "relevance_score": _relevance(query, str(doc))} for i, doc in enumerate(documents)),
        key=lambda r: (-r["relevance_score"], r["index"]),
    )
    top_n = req.get("top_n")
    if isinstance(top_n, int):
        ranked = ranked[:top_n]
    override = ctx.usage_for(req.get("model"))
    units = override.search_units if override is not None and override.search_units is not None else None
    if units is None:
        units = max(1, math.ceil(len(documents) / 100))
    meta = {**_RERANK["meta"], "billed_units": {"search_units": units}}
    return JsonReply({**_RERANK, "id": _uuid(ctx), "results": ranked, "meta": meta})


_MESSAGES: dict[int, str] = {
    400: "invalid request (injected by the stand-in server)",
    401: "invalid api token",
    404: "model not found",
    422: "unprocessable entity",
    429: "You are using a Trial key, which is limited to 10 API calls / minute.",
}


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    """Cohere's error JSON: ``{"id": ..., "message": ...}``."""
    return {"id": "00000000-0000-4000-a000-000000000000", "message": message or _MESSAGES.get(status, "internal error")}
