"""Token estimates for when a provider does not report usage (flagged `estimated`).

About four characters per token for English text, plus a few tokens of framing per chat
message; good to within ~15% for typical prompts. Estimates are only used where the provider
gave no figure (streams without usage) and for budget reservations before a call.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

CHARS_PER_TOKEN = 4
PER_MESSAGE = 3


def text_tokens(text: str | None) -> int:
    if not text:
        return 0
    return -(-len(text) // CHARS_PER_TOKEN)


def content_text(content: Any) -> str:
    """The text in a message content: a string, or a list of parts with `text`."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or content.get("content") or "")
    if isinstance(content, Iterable):
        return " ".join(content_text(part) for part in content)
    return str(content)


def messages_tokens(messages: Iterable[Any] | None) -> int:
    if not messages:
        return 0
    total = PER_MESSAGE
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else getattr(message, "content", message)
        total += PER_MESSAGE + text_tokens(content_text(content))
    return total
