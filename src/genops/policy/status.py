"""Where each budget stands: spent, reserved, remaining, percent, period end, projection.

Used by `genops budget status` (and available to dashboards). Counters missing for the current
period are initialised from the ledger, exactly as the first governed call would.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import partial

from .budget import BudgetRule, percent
from .engine import PolicyEngine
from .periods import end_of_day
from .store import CounterState, Override, from_nano

ZERO = Decimal(0)


@dataclass(frozen=True)
class BudgetStatus:
    policy: str
    scope: str
    enforcement: str
    period: str
    spent: Decimal
    reserved: Decimal
    limit: Decimal  # in force (an override applied)
    configured_limit: Decimal
    remaining: Decimal
    percent: Decimal
    period_start: datetime
    period_end: datetime
    projected: Decimal  # spend at period end at the period's run rate so far
    override: Override | None

    def as_dict(self) -> dict[str, object]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "override"}
        out["override"] = None if self.override is None else {
            "scope": self.override.scope, "limit": self.override.limit, "until": self.override.until,
            "reason": self.override.reason,
        }  # fmt: skip
        return out


def projected_spend(spent: Decimal, start: datetime, end: datetime, now: datetime) -> Decimal:
    """Linear run rate: spent so far scaled to the whole period."""
    elapsed = (min(now, end) - start).total_seconds()
    if elapsed <= 0:
        return spent
    total = (end - start).total_seconds()
    return (spent * Decimal(total) / Decimal(elapsed)).quantize(Decimal("0.01"))


def _active_override(overrides: list[Override], policy: str, scope: str, now: datetime) -> Override | None:
    live = [o for o in overrides if o.policy == policy and o.active(now) and o.scope in (scope, "*")]
    live.sort(key=lambda o: o.scope == "*")
    return live[0] if live else None


def budget_status(engine: PolicyEngine, now: datetime) -> list[BudgetStatus]:
    """One row per budget counter of the current period (a row per value for `per` budgets)."""
    store = engine.store
    overrides = store.overrides()
    rows: list[BudgetStatus] = []
    for rule in engine.budget_rules:
        key = rule.key("*", now)
        states: list[CounterState]
        if rule.policy.per == "scope":
            states = [engine.counter(rule, key, partial(store.read, key, rule.limit_nano, now))]
        else:
            states = store.counters(rule.name, key.period_start, rule.limit_nano, now)
        if not states:
            states = [CounterState("", 0, 0, rule.limit_nano)]
        for state in states:
            rows.append(_row(rule, state, key.period_start, key.period_end, now, overrides))
    return rows


def _row(rule: BudgetRule, state: CounterState, start: datetime, end: datetime, now: datetime,
         overrides: list[Override]) -> BudgetStatus:  # fmt: skip
    spent, reserved, limit = from_nano(state.spent), from_nano(state.reserved), from_nano(state.limit)
    return BudgetStatus(
        policy=rule.name, scope=rule.describe(state.scope) if state.scope else f"{rule.describe('*')} (no spend yet)",
        enforcement=rule.policy.enforcement, period=rule.policy.period, spent=spent, reserved=reserved, limit=limit,
        configured_limit=rule.policy.limit, remaining=max(limit - spent - reserved, ZERO),
        percent=percent(state.spent, state.limit), period_start=start, period_end=end,
        projected=projected_spend(spent, start, end, now),
        override=_active_override(overrides, rule.name, state.scope or "*", now),
    )  # fmt: skip


def parse_until(text: str, tz_name: str) -> datetime:
    """`2024-06-30` (through the end of that day in the budget's timezone) or an ISO datetime."""
    from zoneinfo import ZoneInfo

    text = text.strip()
    try:
        if len(text) == 10:
            return end_of_day(date.fromisoformat(text), tz_name)
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--until {text!r}: use a date (2024-06-30) or an ISO datetime") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(tz_name))
    return value
