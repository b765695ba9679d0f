"""The usage event: the one record every governed operation becomes.

Money is `Decimal` in USD. A cost of `None` means "unknown" (never $0): the event then says why
in `cost.source` ("unknown-model", "no-usage").
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

Provenance = Literal["reported", "estimated", "unavailable"]
Status = Literal["ok", "error", "blocked", "incomplete"]  # incomplete: a stream abandoned part-way

ATTRIBUTION_FIELDS = ("team", "project", "customer_id", "user_id", "environment", "operation", "service")


@dataclass(frozen=True, slots=True)
class Usage:
    """What the provider billed for, in its own units.

    `input_tokens` counts every input token, cached ones included (OTel GenAI convention);
    `cached_input_tokens` and `cache_write_tokens` are the parts of it read from / written to a
    prompt cache. `output_tokens` includes `reasoning_tokens`. `units` holds non-token billing
    units (Cohere search units, vector-DB read/write units).
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    units: Mapping[str, int] = field(default_factory=dict)
    provenance: Provenance = "reported"

    @classmethod
    def unavailable(cls) -> Usage:
        return cls(provenance="unavailable")


@dataclass(frozen=True, slots=True)
class Cost:
    """A priced usage. `total is None` means the price is unknown."""

    total: Decimal | None
    input: Decimal | None = None
    output: Decimal | None = None
    components: Mapping[str, Decimal] = field(default_factory=dict)
    currency: str = "USD"
    source: str = "genai-prices"
    version: str | None = None

    @property
    def known(self) -> bool:
        return self.total is not None


UNKNOWN_COST = Cost(total=None, source="unknown")


@dataclass(frozen=True, slots=True)
class Attribution:
    """Who an operation is charged to. Custom attributes live in `custom`."""

    team: str | None = None
    project: str | None = None
    customer_id: str | None = None
    user_id: str | None = None
    environment: str | None = None
    operation: str | None = None
    service: str | None = None
    custom: Mapping[str, str] = field(default_factory=dict)

    def merged(self, **values: Any) -> Attribution:
        """A copy where the given non-None values override; unknown keys become custom."""
        known: dict[str, Any] = {}
        custom = dict(self.custom)
        for key, value in values.items():
            if value is None:
                continue
            if key in ATTRIBUTION_FIELDS:
                known[key] = str(value)
            else:
                custom[key] = str(value)
        return replace(self, custom=custom, **known)

    def under(self, defaults: Attribution) -> Attribution:
        """Fill fields still unset here from `defaults` (config defaults)."""
        values = {k: getattr(self, k) or getattr(defaults, k) for k in ATTRIBUTION_FIELDS}
        return Attribution(custom={**defaults.custom, **self.custom}, **values)

    def as_dict(self) -> dict[str, str]:
        out = {k: v for k in ATTRIBUTION_FIELDS if (v := getattr(self, k)) is not None}
        out.update(self.custom)
        return out


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    """What one policy said about one call."""

    policy: str
    policy_type: str
    action: Literal["allow", "warn", "block", "throttle", "fallback"]
    reason: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class UsageEvent:
    id: str
    start_time: datetime
    end_time: datetime
    provider: str
    operation_kind: str  # chat, embeddings, responses, rerank, vector.query, ...
    request_model: str | None
    response_model: str | None
    usage: Usage
    cost: Cost
    attribution: Attribution
    latency_ms: float
    status: Status = "ok"
    error_type: str | None = None
    stream: bool = False
    decisions: tuple[PolicyDecision, ...] = ()
    substituted_from: str | None = None

    @property
    def model(self) -> str | None:
        """The model that answered, or the one asked for."""
        return self.response_model or self.request_model


class _EventIds:
    """Unique event ids without a syscall per call: a random 64-bit process prefix (renewed in
    forked children) followed by a 64-bit counter."""

    def __init__(self) -> None:
        self.reseed()
        os.register_at_fork(after_in_child=self.reseed)

    def reseed(self) -> None:
        self.prefix = os.urandom(8).hex()
        self.counter = itertools.count(int.from_bytes(os.urandom(4), "big"))

    def next(self) -> str:
        return f"{self.prefix}{next(self.counter) & 0xFFFFFFFFFFFFFFFF:016x}"


_ids = _EventIds()


def new_event_id() -> str:
    """A 32-hex-digit id, unique across processes and hosts (random prefix) and within a process."""
    return _ids.next()
