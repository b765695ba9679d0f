"""Budgets: a USD limit per calendar period, for a scope, optionally one counter per team,
project or customer (`per`).

BLOCKED: before the call, the call's worst-case cost (`worst_case`) is reserved atomically in
the store; the call is refused (BUDGET_EXCEEDED) when settled spend + live reservations + this
reservation would exceed the limit in force. After the call the reservation is replaced by the
actual cost. A model whose price is unknown is refused with PRICE_UNKNOWN
(`on_unknown_price: block`, the default) or let through unreserved (`allow`, warn decision).

WARNING: nothing is reserved; the call proceeds with a warn decision once settled spend has
reached the first threshold (BUDGET_THRESHOLD) or the call could take it over the limit
(BUDGET_EXCEEDED); its actual cost is added after the call.

Either way, crossing a threshold (default 80% and 100%) fires one alert per period and scope.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from ..events import Attribution
from .attempt import Attempt, BudgetHold, money, refuse
from .crossing import BudgetCrossing
from .matching import FILTER_FIELDS, PER_FIELDS, describe_filters, model_matches, scope_matches
from .periods import period_bounds
from .schema import BudgetPolicy
from .store import CounterKey, CounterState, from_nano, to_nano
from .worst_case import worst_case_cost

if TYPE_CHECKING:
    from datetime import datetime

    from .engine import PolicyEngine

HUNDRED = Decimal(100)
CENT = Decimal("0.01")


class BudgetRule:
    def __init__(self, policy: BudgetPolicy) -> None:
        self.policy = policy
        self.name = policy.name
        self.filters = {k: list(getattr(policy, k)) for k in FILTER_FIELDS}
        self.scope_text = describe_filters(self.filters, policy.models)
        self.limit_nano = to_nano(policy.limit)
        self.blocked = policy.enforcement == "BLOCKED"

    # -- scope --------------------------------------------------------------------------------

    def applies(self, attribution: Attribution, model: str | None) -> bool:
        return scope_matches(self.filters, self.policy.models, attribution, model)

    def scope_value(self, attribution: Attribution) -> str:
        if self.policy.per == "scope":
            return "*"
        return f"{self.policy.per}={getattr(attribution, PER_FIELDS[self.policy.per]) or ''}"

    def key(self, scope: str, now: datetime) -> CounterKey:
        start, end = period_bounds(self.policy.period, self.policy.timezone, now)
        return CounterKey(self.name, scope, start, end)

    def describe(self, scope: str) -> str:
        """`teams=[sales]`, or `team=sales (teams=[sales, support])` for a per-value budget."""
        if scope == "*":
            return self.scope_text
        shown = scope if not scope.endswith("=") else f"{scope}(unattributed)"
        return shown if self.scope_text == "global" else f"{shown} ({self.scope_text})"

    def ledger_filters(self, scope: str) -> dict[str, object]:
        filters: dict[str, object] = {FILTER_FIELDS[k]: v for k, v in self.filters.items() if v}
        if scope != "*":
            per, _, value = scope.partition("=")
            filters[PER_FIELDS[per]] = value or None
        return filters

    def model_counts(self, model: str | None) -> bool:
        return not self.policy.models or (model is not None and any(model_matches(model, p) for p in self.policy.models))

    # -- before the call ------------------------------------------------------------------------

    def evaluate(self, att: Attempt, engine: PolicyEngine) -> None:
        if att.model is None and self.policy.models:
            return
        if not self.applies(att.call.attribution, att.model):
            return
        key = self.key(self.scope_value(att.call.attribution), att.now)
        amount = None
        if att.model is not None:
            amount = worst_case_cost(engine.pricer, att.call, att.model, att.provider,
                                     att.input_tokens, self.policy.max_output_tokens, att.now)  # fmt: skip
        if not self.blocked:
            self._warn_check(att, engine, key, amount)
            return
        unknown = f"no price for {att.provider} model {att.model!r}: its cost cannot be reserved"
        if amount is None and att.model is not None and self.policy.on_unknown_price == "block":
            message = (f"GenOps policy {self.name!r} (budget, BLOCKED) refused the call: {unknown} "
                       f"(set a pricing override, or on_unknown_price: allow).")  # fmt: skip
            raise refuse(att, self.name, "budget", "PRICE_UNKNOWN", message, scope=self.describe(key.scope),
                         period_end=key.period_end)  # fmt: skip
        # A call without a model (or an allowed unknown price) cannot be priced before it runs: it
        # reserves one nanodollar, so it needs room left (a budget at its limit refuses it), and
        # is settled at its actual cost.
        nano = 0 if amount is None else to_nano(amount)
        # Held before the store is asked: if it is down and the policy fails open, the call's
        # actual cost is still settled once the store is back.
        hold = BudgetHold(self, key, None, 0)
        att.holds.append(hold)
        result = engine.counter(self, key, lambda: engine.store.reserve(key, max(nano, 1), self.limit_nano, att.now,
                                                                  self.policy.reservation_ttl_seconds))  # fmt: skip
        spent, reserved, limit = from_nano(result.spent), from_nano(result.reserved), from_nano(result.limit)
        if result.ok:
            state = f"{self.describe(key.scope)}: spent {money(spent)} of {money(limit)}"
            hold.reservation_id, hold.amount = result.reservation_id, nano
            if nano:
                att.decide(self.name, "budget", "allow", None, f"reserved {money(amount)}; {state}")
            elif att.model is None:
                att.decide(self.name, "budget", "allow", None, f"nothing to reserve (no model); {state}")
            else:
                att.decide(self.name, "budget", "warn", "PRICE_UNKNOWN", f"{unknown}; {state}")
            return
        message = (
            f"GenOps policy {self.name!r} (budget, BLOCKED) refused the call: {self.describe(key.scope)} has spent "
            f"{money(spent)} (+ {money(reserved)} reserved by calls in flight) of its {money(limit)} "
            f"{self.policy.period} limit, and "
            f"{'it has no room left' if amount is None else f'this call may cost up to {money(amount)}'}. "
            f"The period resets at {_local(key.period_end, self.policy.timezone)}."
        )
        raise refuse(att, self.name, "budget", "BUDGET_EXCEEDED", message, scope=self.describe(key.scope),
                     spent=spent, reserved=reserved, limit=limit, period_end=key.period_end)  # fmt: skip

    def _warn_check(self, att: Attempt, engine: PolicyEngine, key: CounterKey, amount: Decimal | None) -> None:
        att.holds.append(BudgetHold(self, key, None, 0))  # the actual cost is added after the call
        state: CounterState = engine.counter(self, key, lambda: engine.store.read(key, self.limit_nano, att.now))
        spent, limit = state.spent, state.limit
        pct = percent(spent, limit)
        text = f"{self.describe(key.scope)}: spent {money(from_nano(spent))} of {money(from_nano(limit))} ({pct}%)"
        if spent + state.reserved + (to_nano(amount) if amount else 0) > limit:
            att.decide(self.name, "budget", "warn", "BUDGET_EXCEEDED", text)
        elif self.policy.thresholds and spent >= _threshold_nano(self.policy.thresholds[0], limit):
            att.decide(self.name, "budget", "warn", "BUDGET_THRESHOLD", text)
        else:
            att.decide(self.name, "budget", "allow")

    # -- after the call -------------------------------------------------------------------------

    def crossings(self, key: CounterKey, before: int, after: int, limit: int) -> list[float]:
        """Thresholds whose amount the settled spend reached with this settlement."""
        return [t for t in self.policy.thresholds if before < _threshold_nano(t, limit) <= after]

    def crossing(self, key: CounterKey, threshold: float, spent: int, limit: int) -> BudgetCrossing:
        values: dict[str, str | None] = {"team": None, "project": None, "customer_id": None}
        for filter_name, field in FILTER_FIELDS.items():
            if field in values and len(self.filters[filter_name]) == 1:
                values[field] = self.filters[filter_name][0]
        if key.scope != "*":
            per, _, value = key.scope.partition("=")
            values[PER_FIELDS[per]] = value or None
        spent_usd, limit_usd = from_nano(spent), from_nano(limit)
        return BudgetCrossing(
            policy=self.name, scope=self.describe(key.scope), team=values["team"], project=values["project"],
            customer_id=values["customer_id"], threshold=threshold, spent=spent_usd, limit=limit_usd,
            percent=percent(spent, limit), remaining=max(limit_usd - spent_usd, Decimal(0)),
            period_start=key.period_start, period_end=key.period_end, enforcement=self.policy.enforcement,
            timezone=self.policy.timezone,
        )  # fmt: skip


def _threshold_nano(threshold: float, limit: int) -> int:
    return int((Decimal(repr(threshold)) * limit).to_integral_value(rounding="ROUND_CEILING"))


def percent(spent: int, limit: int) -> Decimal:
    if limit <= 0:
        return Decimal(0)
    return (Decimal(spent) * HUNDRED / Decimal(limit)).quantize(CENT, rounding=ROUND_HALF_UP)


def _local(when: datetime, tz: str) -> str:
    from zoneinfo import ZoneInfo

    local = when.astimezone(ZoneInfo(tz))
    return local.strftime("%Y-%m-%d %H:%M ") + (tz if tz != "UTC" else "UTC")
