"""Recorded provider responses, loaded once at import and exposed as reply templates.

The files live in ``recordings/`` (see its README and NOTICE). Wire modules copy these
templates and overwrite ids, text, model and usage, so replies keep the real field sets,
key order and event sequences.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

__all__ = ["TEMPLATES", "body", "first_event", "sse_events"]


def _load(name: str) -> dict[str, Any]:
    text = (files("genops.testing") / "recordings" / f"{name}.json").read_text(encoding="utf-8")
    return json.loads(text)


def sse_events(raw: str) -> list[tuple[str | None, Any]]:
    """Split a raw SSE body into ``(event name or None, parsed data)`` pairs."""
    events: list[tuple[str | None, Any]] = []
    for block in raw.split("\n\n"):
        name: str | None = None
        data_lines: list[str] = []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data_lines.append(line[5:].lstrip())
        if not data_lines:
            continue
        data = "\n".join(data_lines)
        events.append((name, data if data == "[DONE]" else json.loads(data)))
    return events


_NAMES = (
    "openai-chat-2",
    "openai-chat-async-streaming-3",
    "openai-embeddings-3",
    "openai-responses-2",
    "openai-responses-streaming-2",
    "anthropic-prompt-caching-1",
    "anthropic-prompt-caching-stream-1",
    "cohere-v2-chat-1",
    "cohere-v2-chat-streaming-1",
    "cohere-v2-embed-1",
    "cohere-v2-rerank-1",
)

TEMPLATES: dict[str, dict[str, Any]] = {name: _load(name) for name in _NAMES}


def body(name: str) -> Any:
    """The recorded response body of ``name`` (parsed JSON, or the raw SSE text)."""
    return TEMPLATES[name]["response_body"]


def first_event(name: str, key: str) -> dict[str, Any]:
    """The first event of a recorded stream whose ``type`` (or ``event:`` name) is ``key``."""
    for event_name, data in sse_events(body(name)):
        if event_name == key or (isinstance(data, dict) and data.get("type") == key):
            return data
    raise LookupError(f"recording {name!r} has no {key!r} event")
