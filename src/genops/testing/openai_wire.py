"""OpenAI wire format: Chat Completions (JSON and SSE), Embeddings, Models, error bodies.

The Responses API lives in ``openai_responses_wire``. Replies are built from the recorded
shapes in ``recordings/`` (see ``_recorded``).
"""

from __future__ import annotations

from functools import lru_cache
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

PROVIDER = "openai"

_CHAT: dict[str, Any] = _recorded.body("openai-chat-2")
_CHOICE: dict[str, Any] = _CHAT["choices"][0]
_MESSAGE: dict[str, Any] = _CHOICE["message"]
_CHUNK: dict[str, Any] = _recorded.sse_events(_recorded.body("openai-chat-async-streaming-3"))[0][1]
_CHUNK_CHOICE: dict[str, Any] = _CHUNK["choices"][0]
_CHUNK_ROLE_DELTA: dict[str, Any] = _CHUNK_CHOICE["delta"]
_EMBEDDINGS: dict[str, Any] = _recorded.body("openai-embeddings-3")
_EMBEDDING_ITEM: dict[str, Any] = _EMBEDDINGS["data"][0]
_DONE = b"data: [DONE]\n\n"
_OBFUSCATION = "Zq7Xk2PwLm9RtV4bNc8Hs"

MODELS = ("gpt-4o", "gpt-4o-mini", "gpt-4-turbo", "gpt-4.1-nano", "gpt-5-nano", "text-embedding-3-small")


def obfuscation(i: int) -> str:
    """Deterministic stand-in for the random ``obfuscation`` padding field."""
    return _OBFUSCATION[: (i * 7) % 16]


def chat_usage(plan: UsagePlan) -> dict[str, Any]:
    """Chat Completions ``usage`` object, with the detail objects of current recordings."""
    return {
        "prompt_tokens": plan.input_tokens,
        "completion_tokens": plan.output_tokens,
        "total_tokens": plan.input_tokens + plan.output_tokens,
        "prompt_tokens_details": {"cached_tokens": plan.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": plan.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def chat_completions(req: dict[str, Any], ctx: ReplyContext) -> Reply:
    """``POST /v1/chat/completions``."""
    model = req.get("model")
    max_tokens = req.get("max_completion_tokens", req.get("max_tokens"))
    plan = ctx.plan(model, text_chars(req.get("messages")), max_tokens)
    common = {
        "id": ctx.new_id("chatcmpl-", 29),
        "created": ctx.now(),
        "model": ctx.response_model(str(model)),
    }
    finish = "length" if plan.truncated else "stop"
    words = reply_words(plan.visible_tokens)
    if req.get("stream"):
        include_usage = bool((req.get("stream_options") or {}).get("include_usage"))
        return StreamReply(_chat_chunks(common, words, finish, plan, include_usage))
    choice = {**_CHOICE, "message": {**_MESSAGE, "content": "".join(words)}, "finish_reason": finish}
    return JsonReply({**_CHAT, **common, "choices": [choice], "usage": chat_usage(plan)})


def _chat_chunks(
    common: dict[str, Any], words: tuple[str, ...], finish: str, plan: UsagePlan, include_usage: bool
) -> list[bytes]:
    base = {**_CHUNK, **common}

    def chunk(i: int, delta: dict[str, Any], finish_reason: str | None) -> bytes:
        data = {**base, "choices": [{**_CHUNK_CHOICE, "delta": delta, "finish_reason": finish_reason}]}
        if include_usage:
            data["usage"] = None
        data["obfuscation"] = obfuscation(i)
        return sse(data)

    events = [chunk(0, _CHUNK_ROLE_DELTA, None)]
    events.extend(chunk(i + 1, {"content": word}, None) for i, word in enumerate(words))
    events.append(chunk(len(words) + 1, {}, finish))
    if include_usage:
        # The real API sends usage in one extra chunk with an empty choices list.
        last = {**base, "choices": [], "usage": chat_usage(plan), "obfuscation": obfuscation(len(words) + 2)}
        events.append(sse(last))
    events.append(_DONE)
    return events


def _embedding_inputs(value: Any) -> tuple[list[str], int]:
    """The input texts (token arrays become placeholder texts) and their character count."""
    if isinstance(value, str):
        return [value], len(value)
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return [" ".join(map(str, value))], 4 * len(value)
    texts: list[str] = []
    chars = 0
    for item in value if isinstance(value, list) else []:
        if isinstance(item, str):
            texts.append(item)
            chars += len(item)
        elif isinstance(item, list):
            texts.append(" ".join(map(str, item)))
            chars += 4 * len(item)
    return texts, chars


@lru_cache(maxsize=4096)
def _base64_vector(text: str, dims: int) -> str:
    return base64_floats(unit_vector(text, dims))


def embeddings(req: dict[str, Any], ctx: ReplyContext) -> Reply:
    """``POST /v1/embeddings`` (``encoding_format`` float or base64, ``dimensions``)."""
    model = str(req.get("model"))
    texts, chars = _embedding_inputs(req.get("input"))
    dims = req.get("dimensions") or (3072 if "3-large" in model else 1536)
    override = ctx.usage_for(model)
    tokens = count_tokens(chars) if override is None or override.input_tokens is None else override.input_tokens
    as_base64 = req.get("encoding_format") == "base64"
    data = [
        {
            **_EMBEDDING_ITEM,
            "index": i,
            "embedding": _base64_vector(text, dims) if as_base64 else list(unit_vector(text, dims)),
        }
        for i, text in enumerate(texts)
    ]
    body = {
        **_EMBEDDINGS,
        "data": data,
        "model": ctx.response_model(model),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return JsonReply(body)


def models(req: dict[str, Any] | None, ctx: ReplyContext) -> Reply:
    """``GET /v1/models``."""
    data = [{"id": m, "object": "model", "created": 1715367049, "owned_by": "system"} for m in MODELS]
    return JsonReply({"object": "list", "data": data})


_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request (injected by the stand-in server)."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Request not allowed."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again shortly."),
}


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    """OpenAI's error JSON: ``{"error": {"message", "type", "param", "code"}}``."""
    default = ("server_error", None, "The server had an error while processing your request. Sorry about that!")
    type_, code, text = _ERRORS.get(status, default)
    return {"error": {"message": message or text, "type": type_, "param": None, "code": code}}
