"""One evaluation of every policy for one call and one candidate model.

Rules append decisions and *holds* (budget reservations, rate-window entries) to the attempt.
An attempt either passes (its holds go to `call.reservations` and are settled after the call)
or is undone (its holds released) when a rule refuses or asks to wait.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..errors import PolicyViolationError
from ..events import PolicyDecision
from .store import CounterKey

if TYPE_CHECKING:
    from .budget import BudgetRule
    from .rules import RateLimitRule


class Wait(Exception):
    """A THROTTLE rate limit asks the call to wait `seconds` and try again."""

    def __init__(self, seconds: float, policy: str) -> None:
        super().__init__(f"{policy}: wait {seconds:.3f}s")
        self.seconds = seconds
        self.policy = policy


@dataclass(slots=True)
class BudgetHold:
    rule: BudgetRule
    key: CounterKey
    reservation_id: str | None  # None: a WARNING budget (nothing reserved, the cost is added at settle)
    amount: int  # nanodollars reserved


@dataclass(slots=True)
class RateHold:
    rule: RateLimitRule
    key: str
    entry_id: str
    weight: int


@dataclass(slots=True)
class Attempt:
    call: Any  # genops.pipeline.Call
    model: str | None
    provider: str  # the provider whose prices apply to `model`
    now: datetime
    waited: float  # seconds this call already waited for THROTTLE rate limits
    may_wait: bool = True
    decisions: list[PolicyDecision] = field(default_factory=list)
    holds: list[Any] = field(default_factory=list)
    _input_tokens: int | None = None

    @property
    def input_tokens(self) -> int:
        """The integration's estimate of the request's input tokens (computed once)."""
        if self._input_tokens is None:
            self._input_tokens = self.call.estimated_input_tokens()
        return self._input_tokens

    def decide(self, policy: str, policy_type: str, action: str, reason: str | None = None, detail: str | None = None) -> None:
        self.decisions.append(PolicyDecision(policy, policy_type, action, reason, detail))  # type: ignore[arg-type]


def money(value: Decimal | None) -> str:
    """`$1,234.56` (at least cents; sub-cent amounts keep their digits)."""
    if value is None:
        return "unknown"
    exact = value.normalize()
    if exact == 0 or exact.as_tuple().exponent >= -2:  # type: ignore[operator]
        return f"${value:,.2f}"
    return f"${exact:,f}"


def refuse(att: Attempt, policy: str, policy_type: str, reason: str, message: str, **details: Any) -> PolicyViolationError:
    """Record a block decision and build the error to raise."""
    att.decide(policy, policy_type, "block", reason, message)
    return PolicyViolationError(message, policy=policy, policy_type=policy_type, reason=reason, **details)
