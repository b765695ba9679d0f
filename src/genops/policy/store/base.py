"""The shared policy state: budget counters, reservations, rate windows, overrides, alert claims.

Every backend implements `CounterStore` with the same semantics, atomic across threads and
processes (and hosts, for PostgreSQL and Redis):

- Money is an integer number of nanodollars (1e-9 USD, `to_nano` rounds up), so a counter is
  exact and never under-counts. (Redis evaluates Lua with doubles: exact up to ~$9M per counter.)
- A budget counter is keyed by (policy, scope value, period start). `reserve` holds a call's
  worst-case cost only if `spent + reserved + amount <= limit`; `settle` replaces a reservation by
  the actual cost; `release` drops it. Expired reservations (a crashed process) stop counting.
- The limit in force is the policy's, unless an unexpired override for the policy (scope `*`) or
  for the scope value exists; the store applies it inside the same atomic step.
- A missing counter raises `CounterMissing`: the engine initialises it from the ledger's spend for
  the period (`init_counter`, first writer wins) and retries, so period spend survives restarts.
- Rate windows are sliding 60-second logs: at most N requests (or tokens) in any window.
- `claim_crossing` succeeds exactly once per (policy, scope, period, threshold).

Backends raise `StoreError` when the store cannot be reached; the engine applies the policy's
`on_store_error`.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal

from ...errors import GenOpsError

NANO_PER_USD = 10**9


def to_nano(amount: Decimal) -> int:
    """USD -> integer nanodollars, rounded up (counters never under-count)."""
    return int((amount * NANO_PER_USD).to_integral_value(rounding=ROUND_CEILING))


def from_nano(value: int) -> Decimal:
    return Decimal(value).scaleb(-9)


def from_timestamp(value: float) -> datetime:
    """A stored POSIX timestamp -> an aware UTC datetime."""
    return datetime.fromtimestamp(value, tz=UTC)


def new_id() -> str:
    return os.urandom(12).hex()


class StoreError(GenOpsError):
    """The policy store could not be reached or failed."""


class CounterMissing(Exception):
    """The budget counter for this period does not exist yet (initialise it from the ledger)."""


@dataclass(frozen=True, slots=True)
class CounterKey:
    policy: str
    scope: str  # "*" for a whole-scope budget, "team=sales" for a per-team budget
    period_start: datetime  # UTC
    period_end: datetime  # UTC (used for key expiry)


@dataclass(frozen=True, slots=True)
class ReserveResult:
    ok: bool
    spent: int  # settled, nanodollars
    reserved: int  # live reservations including this one when ok
    limit: int  # the limit in force (override applied)
    reservation_id: str | None = None


@dataclass(frozen=True, slots=True)
class SettleResult:
    spent_before: int
    spent_after: int
    limit: int


@dataclass(frozen=True, slots=True)
class CounterState:
    scope: str
    spent: int
    reserved: int
    limit: int


@dataclass(frozen=True, slots=True)
class RateResult:
    ok: bool
    requests: int  # in the window, including this one when ok
    tokens: int
    retry_after: float | None = None  # seconds until the request would fit; None = never
    entry_id: str | None = None


@dataclass(frozen=True, slots=True)
class Override:
    policy: str
    scope: str  # "*" = every scope value of the policy
    limit: Decimal
    until: datetime  # UTC; the override stops applying at this instant
    created_at: datetime
    reason: str | None = None

    def active(self, now: datetime) -> bool:
        return now < self.until


def window_retry_after(entries: list[tuple[float, int]], now: float, window: float, weight: int,
                       max_requests: int | None, max_tokens: int | None) -> float | None:
    """Seconds until a request of `weight` tokens fits, given the window's (timestamp, weight)
    entries sorted oldest first; None when it can never fit (weight > max_tokens)."""
    if max_tokens is not None and weight > max_tokens:
        return None
    count, tokens = len(entries), sum(w for _, w in entries)
    wait_until = now
    for dropped, (ts, w) in enumerate(entries):
        fits_req = max_requests is None or count - dropped + 1 <= max_requests
        fits_tok = max_tokens is None or tokens + weight <= max_tokens
        if fits_req and fits_tok:
            break
        tokens -= w
        wait_until = ts + window
    return max(wait_until - now, 0.0)


class CounterStore(ABC):
    """See the module docstring for the contract."""

    kind = "abstract"

    # -- budgets -------------------------------------------------------------------------------

    @abstractmethod
    def reserve(self, key: CounterKey, amount: int, limit: int, now: datetime, ttl_seconds: float) -> ReserveResult:
        """Reserve `amount` if it fits under the limit in force. Raises CounterMissing."""

    @abstractmethod
    def settle(self, key: CounterKey, reservation_id: str | None, amount: int | None, limit: int, now: datetime) -> SettleResult:
        """Drop the reservation (if still there) and add `amount` to spent (None: the reserved
        amount). Raises CounterMissing."""

    @abstractmethod
    def release(self, key: CounterKey, reservation_id: str) -> None:
        """Drop a reservation without spending."""

    @abstractmethod
    def read(self, key: CounterKey, limit: int, now: datetime) -> CounterState:
        """Current spent / live reserved / limit in force. Raises CounterMissing."""

    @abstractmethod
    def init_counter(self, key: CounterKey, spent: int) -> None:
        """Create the counter with `spent` unless it exists (first writer wins)."""

    @abstractmethod
    def counters(self, policy: str, period_start: datetime, limit: int, now: datetime) -> list[CounterState]:
        """Every counter of a policy for one period (for `genops budget status`)."""

    # -- rate limits ---------------------------------------------------------------------------

    @abstractmethod
    def rate_acquire(self, key: str, now: datetime, window: float, weight: int,
                     max_requests: int | None, max_tokens: int | None) -> RateResult:
        """Log one request of `weight` tokens if the sliding window admits it."""

    @abstractmethod
    def rate_adjust(self, key: str, entry_id: str, weight: int) -> None:
        """Replace a logged request's token weight (estimate -> actual)."""

    @abstractmethod
    def rate_release(self, key: str, entry_id: str) -> None:
        """Remove a logged request (it never went out)."""

    # -- alerts and overrides --------------------------------------------------------------------

    @abstractmethod
    def claim_crossing(self, key: CounterKey, threshold: float, now: datetime) -> bool:
        """True for exactly one caller per (policy, scope, period, threshold)."""

    @abstractmethod
    def set_override(self, override: Override) -> None:
        """Store (or replace) the override for (policy, scope)."""

    @abstractmethod
    def overrides(self, policy: str | None = None) -> list[Override]:
        """Stored overrides, expired ones included (callers filter with `active`)."""

    @abstractmethod
    def clear_override(self, policy: str, scope: str = "*") -> bool:
        """Remove an override; True when one existed."""

    def close(self) -> None:
        """Close connections."""


def threshold_label(threshold: float) -> str:
    """A stable text form of a threshold for claim keys (0.8 -> '0.8', 1 -> '1.0')."""
    return repr(float(threshold))
