"""A budget threshold crossing: what the alerting side receives.

The policy engine claims each crossing atomically in the shared store (one claim per policy,
scope value, period and threshold, across all processes) and then calls
`runtime.alerts.budget_threshold(crossing)` in the one process that won the claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class BudgetCrossing:
    """A budget's settled spend reached `threshold` (a fraction of the limit) in one period."""

    policy: str
    scope: str  # e.g. "teams=[support]" or "team=support"
    team: str | None
    project: str | None
    customer_id: str | None
    threshold: float  # 0.8 = 80%
    spent: Decimal
    limit: Decimal
    percent: Decimal  # spent / limit * 100, two decimals
    remaining: Decimal  # limit - spent, never negative
    period_start: datetime
    period_end: datetime
    enforcement: str  # WARNING | BLOCKED
    timezone: str = "UTC"

    @property
    def exceeded(self) -> bool:
        return self.spent >= self.limit
