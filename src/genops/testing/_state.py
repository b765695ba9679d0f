"""Mutable, thread-safe state of a stand-in server: recorded requests and the test controls
(usage overrides, injected failures, response-model mapping, stream drops, delays)."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from ._common import UsageOverride
from ._vector_store import VectorStore


@dataclass(frozen=True)
class RecordedRequest:
    """One request the stand-in server received.

    ``headers`` has lower-case names; ``json`` is the parsed body (``None`` when empty);
    ``path`` excludes the query string, which is in ``query``.
    """

    method: str
    path: str
    headers: dict[str, str]
    json: Any | None
    query: str = ""


@dataclass
class Failure:
    """An injected provider error, matched by model and/or path suffix."""

    status: int
    remaining: int
    model: str | None = None
    body: Any = None
    path: str | None = None
    retry_after: float = 0.05

    def matches(self, path: str, model: Any) -> bool:
        if self.path is not None and not path.endswith(self.path):
            return False
        return self.model is None or self.model == model


@dataclass
class ServerState:
    """Everything the request handler reads and the control API writes."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[RecordedRequest] = field(default_factory=list)
    usage: dict[str | None, UsageOverride] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    response_models: dict[str, str] = field(default_factory=dict)
    drop_after: int | None = None
    latency: float = 0.0
    chunk_delay: float = 0.0
    seq: itertools.count = field(default_factory=itertools.count)
    vectors: VectorStore = field(default_factory=VectorStore)

    def record(self, request: RecordedRequest) -> None:
        with self.lock:
            self.requests.append(request)

    def usage_for(self, model: str | None) -> UsageOverride | None:
        """The override for ``model``, else the all-models override, else ``None``."""
        usage = self.usage
        if model is not None and model in usage:
            return usage[model]
        return usage.get(None)

    def response_model(self, model: str) -> str:
        return self.response_models.get(model, model)

    def next_seq(self) -> int:
        return next(self.seq)

    def take_failure(self, path: str, model: Any) -> Failure | None:
        """Consume one use of the first failure rule matching this request."""
        if not self.failures:
            return None
        with self.lock:
            for failure in self.failures:
                if failure.matches(path, model):
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self.failures.remove(failure)
                    return failure
        return None

    def take_drop(self) -> int | None:
        """Consume the pending stream drop, if any."""
        if self.drop_after is None:
            return None
        with self.lock:
            drop, self.drop_after = self.drop_after, None
        return drop

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.usage.clear()
            self.failures.clear()
            self.response_models.clear()
            self.drop_after = None
            self.latency = 0.0
            self.chunk_delay = 0.0
        self.vectors.reset()
