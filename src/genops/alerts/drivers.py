"""The top cost drivers of a budget's period, read from the ledger (the source of truth).

The crossing is claimed when its call settles, a moment before the background processor writes
that call's event to the ledger. `read_drivers` therefore waits (bounded, `wait_seconds`) until
the ledger holds at least the spend the crossing reported, so the call that crossed the threshold
is part of the figures; after the wait it reads what is there.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..policy.crossing import BudgetCrossing

POLL_SECONDS = 0.02
BILLED = ("ok", "error", "incomplete")


@dataclass(frozen=True, slots=True)
class Driver:
    """One model or customer: its spend in the period and number of requests."""

    name: str | None  # None: calls without a customer id (or model)
    cost_usd: Decimal
    requests: int


@dataclass(frozen=True, slots=True)
class Drivers:
    models: tuple[Driver, ...]
    customers: tuple[Driver, ...]
    total_usd: Decimal  # the period's spend in the ledger for the budget's scope
    complete: bool  # False: the ledger had less than the crossing's spend when it was read


def find_rule(runtime: Any, policy: str) -> Any:
    """The engine's `BudgetRule` named `policy` (None when it is not there)."""
    engine = getattr(runtime, "policies", None)
    return next((r for r in getattr(engine, "budget_rules", ()) if r.name == policy), None)


def scope_filters(rule: Any, crossing: BudgetCrossing) -> tuple[dict[str, object], Any]:
    """Ledger filters for the crossing's scope, and a predicate on model names (models: globs)."""
    from ..policy.matching import PER_FIELDS

    if rule is None:  # a crossing from elsewhere: its named team/project/customer
        fields = {"team": crossing.team, "project": crossing.project, "customer_id": crossing.customer_id}
        return {k: v for k, v in fields.items() if v is not None}, lambda model: True
    per = rule.policy.per
    scope = "*" if per == "scope" else f"{per}={getattr(crossing, PER_FIELDS[per]) or ''}"
    return rule.ledger_filters(scope), rule.model_counts


def read_drivers(ledger: Any, rule: Any, crossing: BudgetCrossing, top: int, wait_seconds: float) -> Drivers:
    """The period's top `top` models and customers for the crossing's scope (most expensive first)."""
    filters, counts = scope_filters(rule, crossing)
    filters = {**filters, "status": BILLED}  # refused calls cost nothing and are not drivers
    deadline = time.monotonic() + wait_seconds
    while True:
        rows = ledger.spend(crossing.period_start, crossing.period_end, ["model", "customer_id"], filters)
        rows = [r for r in rows if counts(r.group.get("model"))]
        total = sum((r.cost_usd for r in rows), Decimal(0))
        if total >= crossing.spent or time.monotonic() >= deadline:
            break
        time.sleep(POLL_SECONDS)
    return Drivers(
        models=_top(rows, "model", top),
        customers=_top(rows, "customer_id", top),
        total_usd=total,
        complete=total >= crossing.spent,
    )


def _top(rows: list[Any], field: str, top: int) -> tuple[Driver, ...]:
    cost: dict[str | None, Decimal] = {}
    requests: dict[str | None, int] = {}
    for row in rows:
        group: Mapping[str, str | None] = row.group
        key = group.get(field)
        cost[key] = cost.get(key, Decimal(0)) + row.cost_usd
        requests[key] = requests.get(key, 0) + row.requests
    ranked = sorted(cost, key=lambda k: (-cost[k], k is None, k or ""))
    return tuple(Driver(k, cost[k], requests[k]) for k in ranked[:top])
