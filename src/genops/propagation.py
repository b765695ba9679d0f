"""Outgoing attribution: W3C `baggage` on the service's own HTTP requests (httpx, requests).

Requests made by a provider SDK inside a governed call are left alone, and so are requests to
known AI-provider hosts: team and customer ids are not sent to third parties.
"""

from __future__ import annotations

import fnmatch
from typing import Any
from urllib.parse import urlsplit

from . import context
from .pipeline import active_call
from .providers._patch import Instrumentation

EXCLUDED_HOSTS = (
    "*.openai.com", "*.openai.azure.com", "*.anthropic.com", "*.cohere.com", "*.cohere.ai",
    "*.pinecone.io", "*.weaviate.network", "*.weaviate.cloud", "*.googleapis.com", "*.mistral.ai",
)

_instrumentation: Instrumentation | None = None


def should_inject(url: str) -> bool:
    if active_call() is not None:
        return False
    host = (urlsplit(url).hostname or "").lower()
    return not any(fnmatch.fnmatchcase(host, pattern) or host == pattern[2:] for pattern in EXCLUDED_HOSTS)


def _inject_into(headers: Any, url: str) -> None:
    if context.current() == context._EMPTY or not should_inject(url):
        return
    carrier: dict[str, str] = {}
    if "baggage" in headers:
        carrier["baggage"] = headers["baggage"]
    context.inject(carrier)
    if "baggage" in carrier:
        headers["baggage"] = carrier["baggage"]


def _httpx_send(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    request = args[0] if args else kwargs["request"]
    _inject_into(request.headers, str(request.url))
    return wrapped(*args, **kwargs)


def _requests_send(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    request = args[0] if args else kwargs["request"]
    _inject_into(request.headers, request.url)
    return wrapped(*args, **kwargs)


def instrument() -> Instrumentation:
    """Patch httpx (sync and async) and requests, when installed (idempotent)."""
    global _instrumentation
    if _instrumentation is not None and _instrumentation.active:
        return _instrumentation
    inst = Instrumentation("propagation")
    try:
        import httpx

        inst.wrap(httpx.Client, "send", _httpx_send)
        inst.wrap(httpx.AsyncClient, "send", _httpx_send)
    except ImportError:
        pass
    try:
        import requests

        inst.wrap(requests.Session, "send", _requests_send)
    except ImportError:
        pass
    _instrumentation = inst
    return inst
