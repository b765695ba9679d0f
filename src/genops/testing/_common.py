"""Shared pieces of the stand-in wire modules: replies, usage plans, deterministic text,
ids, vectors and SSE encoding."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

DEFAULT_OUTPUT_TOKENS = 20
MAX_TEXT_WORDS = 512
"""Replies carry at most this many words; usage figures are not capped."""

# Twenty words, so the default reply (20 output tokens) is exactly one sentence.
REPLY_SENTENCE = (
    "This is a deterministic reply from the GenOps stand-in provider server, "
    "generated for tests and benchmarks without calling real models."
)
SENTENCE = REPLY_SENTENCE.split()


@dataclass(frozen=True)
class JsonReply:
    """A complete JSON response."""

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamReply:
    """A server-sent-events response: each item is one fully encoded SSE event."""

    events: list[bytes]
    headers: dict[str, str] = field(default_factory=dict)


Reply = JsonReply | StreamReply


@dataclass(frozen=True)
class UsageOverride:
    """Usage figures fixed by ``StandInServer.set_usage``; ``None`` keeps the computed default."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cache_creation_tokens: int = 0
    search_units: int | None = None


@dataclass(frozen=True)
class UsagePlan:
    """The usage one reply reports, in provider-neutral terms (each wire module maps the
    fields onto its provider's own names, verbatim)."""

    input_tokens: int
    output_tokens: int
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cache_creation_tokens: int = 0
    search_units: int | None = None
    truncated: bool = False

    @property
    def visible_tokens(self) -> int:
        """Output tokens that appear as text (output minus reasoning)."""
        return max(0, self.output_tokens - self.reasoning_tokens)


def count_tokens(chars: int) -> int:
    """The stand-in tokenizer: one token per four characters, at least one."""
    return max(1, math.ceil(chars / 4))


def text_chars(value: Any) -> int:
    """Characters of prompt text in a message list, content-part list or string."""
    if value is None:
        return 0
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(text_chars(item) for item in value)
    if isinstance(value, dict):
        total = 0
        for key in ("content", "text", "input"):
            if key in value:
                total += text_chars(value[key])
        return total
    return 0


def plan_usage(
    override: UsageOverride | None, input_chars: int, max_tokens: Any, default_output: int = DEFAULT_OUTPUT_TOKENS
) -> UsagePlan:
    """Resolve the usage of one reply: override fields win verbatim, the rest is computed."""
    limit = max_tokens if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) else None
    computed_output = default_output if limit is None else min(default_output, max(0, limit))
    if override is None:
        return UsagePlan(
            input_tokens=count_tokens(input_chars),
            output_tokens=computed_output,
            truncated=limit is not None and limit < default_output,
        )
    output = computed_output if override.output_tokens is None else override.output_tokens
    return UsagePlan(
        input_tokens=count_tokens(input_chars) if override.input_tokens is None else override.input_tokens,
        output_tokens=output,
        cached_tokens=override.cached_tokens,
        reasoning_tokens=override.reasoning_tokens,
        cache_creation_tokens=override.cache_creation_tokens,
        search_units=override.search_units,
        truncated=limit is not None and output >= limit,
    )


@lru_cache(maxsize=64)
def reply_words(n: int) -> tuple[str, ...]:
    """``n`` words of the fixed sentence (cycled, capped at MAX_TEXT_WORDS), the first
    without and the others with a leading space, so they double as stream deltas."""
    n = min(max(0, n), MAX_TEXT_WORDS)
    return tuple((" " if i else "") + SENTENCE[i % len(SENTENCE)] for i in range(n))


def reply_text(n: int) -> str:
    """The deterministic reply text of ``n`` tokens (one word per token)."""
    return "".join(reply_words(n))


def stable_id(seed: str, length: int, alphabet: str = "0123456789abcdef") -> str:
    """A deterministic id fragment of ``length`` characters derived from ``seed``."""
    digest = hashlib.sha256(seed.encode()).digest()
    while len(digest) < length:
        digest += hashlib.sha256(digest).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:length])


BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@lru_cache(maxsize=4096)
def unit_vector(text: str, dims: int) -> tuple[float, ...]:
    """A deterministic unit-length embedding for ``text`` (same text, same vector)."""
    raw = b""
    counter = 0
    seed = text.encode()
    while len(raw) < dims * 4:
        raw += hashlib.blake2b(seed + counter.to_bytes(4, "little"), digest_size=64).digest()
        counter += 1
    ints = struct.unpack(f"<{dims}I", raw[: dims * 4])
    values = [(i / 0xFFFFFFFF) * 2.0 - 1.0 for i in ints]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return tuple(round(v / norm, 8) for v in values)


def base64_floats(vector: tuple[float, ...]) -> str:
    """A vector as base64 of its little-endian float32 values (the providers' base64 encoding)."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def sse(data: Any, event: str | None = None, pad: int = 0) -> bytes:
    """Encode one SSE event. ``pad`` spaces go before the closing brace of the JSON object,
    as Anthropic's API does."""
    payload = data if isinstance(data, str) else dumps(data)
    if pad and payload.endswith("}"):
        payload = payload[:-1] + " " * pad + "}"
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


@dataclass
class ReplyContext:
    """What a wire module needs from the server to build one reply."""

    usage_for: Callable[[str | None], UsageOverride | None]
    response_model: Callable[[str], str]
    next_seq: Callable[[], int]
    now: Callable[[], int]
    path: str = ""  # request path (vector-database routes read ids and names from it)
    method: str = ""
    query: str = ""  # query string, without "?"
    vectors: Any = None  # the server's `_vector_store.VectorStore`

    def plan(self, model: Any, input_chars: int, max_tokens: Any) -> UsagePlan:
        return plan_usage(self.usage_for(model if isinstance(model, str) else None), input_chars, max_tokens)

    def new_id(self, prefix: str, length: int, alphabet: str = BASE62) -> str:
        return prefix + stable_id(f"{prefix}{self.next_seq()}", length, alphabet)
