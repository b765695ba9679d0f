"""How a `UsageEvent` becomes a ledger row and back, and how money is stored.

Money is stored twice per event: `cost_pico`, an integer count of picodollars (1e-12 USD) that
SQL can sum, and `cost_usd`, the exact decimal string. When a cost has more than 12 decimal
places (e.g. after a configured discount) `cost_pico` is rounded half-even and the row is
flagged `cost_inexact = 1`; totals then add back the difference from the exact string, so sums
stay exact. Times are integer microseconds since the Unix epoch, UTC.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from typing import Any

from .._clock import now as _now
from ..events import Attribution, Cost, PolicyDecision, Usage, UsageEvent

EVENTS_TABLE = "genops_events"
DAILY_TABLE = "genops_daily_spend"
HOURLY_TABLE = "genops_hourly_spend"
MIGRATIONS_TABLE = "genops_schema_migrations"

EVENT_COLUMNS: tuple[str, ...] = (
    "id", "start_us", "end_us", "provider", "operation_kind", "request_model", "response_model", "model",
    "input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens", "reasoning_tokens",
    "usage_units", "usage_provenance",
    "cost_pico", "cost_usd", "cost_inexact", "cost_input", "cost_output", "cost_components", "currency",
    "price_source", "price_version",
    "team", "project", "customer_id", "user_id", "environment", "operation", "service", "attributes",
    "latency_ms", "status", "error_type", "stream", "decisions", "substituted_from", "recorded_us",
)  # fmt: skip

# The dimensions kept in the daily rollup (user_id is left out: too many values).
ROLLUP_GROUPS: tuple[str, ...] = (
    "team", "project", "customer_id", "provider", "model", "operation", "environment", "operation_kind", "status",
)  # fmt: skip
ROLLUP_SUMS: tuple[str, ...] = (
    "requests", "unknown_cost_requests", "inexact_cost_requests", "cost_pico",
    "input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens",
)  # fmt: skip

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
_PICO = Decimal(10) ** 12
# Wide enough that no money arithmetic here ever rounds.
MONEY_CONTEXT = Context(prec=100)


# -- time -------------------------------------------------------------------------------------


def utc(value: datetime) -> datetime:
    """`value` as an aware UTC datetime (a naive datetime is taken to be UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def to_us(value: datetime) -> int:
    """Microseconds since the epoch (exact: datetimes have microsecond resolution)."""
    delta = utc(value) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(us))


def utc_day(value: datetime) -> str:
    """The UTC calendar day of `value`, as `YYYY-MM-DD` (the rollup's `day`)."""
    return utc(value).date().isoformat()


def is_utc_midnight(value: datetime) -> bool:
    v = utc(value)
    return (v.hour, v.minute, v.second, v.microsecond) == (0, 0, 0, 0)


def day_of(value: datetime) -> date:
    return utc(value).date()


# -- money ------------------------------------------------------------------------------------


def decimal_text(value: Decimal) -> str:
    """An exact, plain (no exponent) decimal string."""
    return format(value, "f")


def to_pico(value: Decimal) -> tuple[int, bool]:
    """(picodollars rounded half-even, whether that rounding was inexact)."""
    with localcontext(MONEY_CONTEXT):
        scaled = value * _PICO
        pico = scaled.to_integral_value(rounding=ROUND_HALF_EVEN)
        return int(pico), pico != scaled


def from_pico(pico: int) -> Decimal:
    with localcontext(MONEY_CONTEXT):
        return Decimal(int(pico)) / _PICO


def tidy(value: Decimal) -> Decimal:
    """The same amount without trailing zeros (0.001230000000 -> 0.00123); exact."""
    if value == 0:
        return Decimal(0)
    with localcontext(MONEY_CONTEXT):
        return value.normalize()


def residual(cost_usd: str, cost_pico: int) -> Decimal:
    """Exact cost minus its stored picodollar rounding."""
    with localcontext(MONEY_CONTEXT):
        return Decimal(cost_usd) - from_pico(cost_pico)


# -- events <-> rows --------------------------------------------------------------------------


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _loads(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _dec_text(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)


def event_to_row(event: UsageEvent) -> tuple[Any, ...]:
    """The row for `event`, in `EVENT_COLUMNS` order."""
    usage, cost, who = event.usage, event.cost, event.attribution
    pico, inexact = to_pico(cost.total) if cost.total is not None else (None, False)
    decisions = [
        {"policy": d.policy, "policy_type": d.policy_type, "action": d.action, "reason": d.reason, "detail": d.detail}
        for d in event.decisions
    ]
    return (
        event.id, to_us(event.start_time), to_us(event.end_time), event.provider, event.operation_kind,
        event.request_model, event.response_model, event.model,
        usage.input_tokens, usage.output_tokens, usage.cached_input_tokens, usage.cache_write_tokens,
        usage.reasoning_tokens, _dumps(dict(usage.units)), usage.provenance,
        pico, _dec_text(cost.total), int(inexact), _dec_text(cost.input), _dec_text(cost.output),
        _dumps({k: decimal_text(v) for k, v in cost.components.items()}), cost.currency, cost.source, cost.version,
        who.team, who.project, who.customer_id, who.user_id, who.environment, who.operation, who.service,
        _dumps(dict(who.custom)),
        float(event.latency_ms), event.status, event.error_type, int(bool(event.stream)), _dumps(decisions),
        event.substituted_from, to_us(_now()),
    )  # fmt: skip


def row_to_event(row: Sequence[Any]) -> UsageEvent:
    """The `UsageEvent` a row (in `EVENT_COLUMNS` order) was written from."""
    r = dict(zip(EVENT_COLUMNS, row))
    usage = Usage(
        input_tokens=r["input_tokens"],
        output_tokens=r["output_tokens"],
        cached_input_tokens=r["cached_input_tokens"],
        cache_write_tokens=r["cache_write_tokens"],
        reasoning_tokens=r["reasoning_tokens"],
        units=_loads(r["usage_units"]),
        provenance=r["usage_provenance"],
    )
    cost = Cost(
        total=_dec(r["cost_usd"]),
        input=_dec(r["cost_input"]),
        output=_dec(r["cost_output"]),
        components={k: Decimal(v) for k, v in _loads(r["cost_components"]).items()},
        currency=r["currency"],
        source=r["price_source"],
        version=r["price_version"],
    )
    attribution = Attribution(
        team=r["team"],
        project=r["project"],
        customer_id=r["customer_id"],
        user_id=r["user_id"],
        environment=r["environment"],
        operation=r["operation"],
        service=r["service"],
        custom=_loads(r["attributes"]),
    )
    return UsageEvent(
        id=r["id"],
        start_time=from_us(r["start_us"]),
        end_time=from_us(r["end_us"]),
        provider=r["provider"],
        operation_kind=r["operation_kind"],
        request_model=r["request_model"],
        response_model=r["response_model"],
        usage=usage,
        cost=cost,
        attribution=attribution,
        latency_ms=r["latency_ms"],
        status=r["status"],
        error_type=r["error_type"],
        stream=bool(r["stream"]),
        decisions=tuple(PolicyDecision(**d) for d in _loads(r["decisions"])),
        substituted_from=r["substituted_from"],
    )


# -- rollups ----------------------------------------------------------------------------------


def rollup_groups(e: UsageEvent) -> tuple[str | None, ...]:
    """The event's values of `ROLLUP_GROUPS`."""
    a = e.attribution
    return (a.team, a.project, a.customer_id, e.provider, e.model, a.operation, a.environment,
            e.operation_kind, e.status)  # fmt: skip


def group_key(groups: Sequence[Any]) -> str:
    """The rollup tables' key for one combination of `ROLLUP_GROUPS` values."""
    return _dumps(list(groups))


def _deltas(events: Sequence[UsageEvent], bucket: Any) -> list[tuple[Any, ...]]:
    acc: dict[tuple[Any, str], list[Any]] = {}
    for e in events:
        groups = rollup_groups(e)
        key = (bucket(e), group_key(groups))
        sums = acc.get(key)
        if sums is None:
            sums = acc[key] = [list(groups), 0, 0, 0, 0, 0, 0, 0, 0]
        pico, inexact = to_pico(e.cost.total) if e.cost.total is not None else (0, False)
        u = e.usage
        sums[1] += 1
        sums[2] += e.cost.total is None
        sums[3] += inexact
        sums[4] += pico
        sums[5] += u.input_tokens or 0
        sums[6] += u.output_tokens or 0
        sums[7] += u.cached_input_tokens or 0
        sums[8] += u.reasoning_tokens or 0
    return [(bucket_value, key, *s[0], *s[1:]) for (bucket_value, key), s in acc.items()]


def rollup_deltas(events: Sequence[UsageEvent]) -> list[tuple[Any, ...]]:
    """Per (UTC day, group) sums of newly inserted events, as rows for the daily rollup upsert:
    (day, group_key, *ROLLUP_GROUPS values, *ROLLUP_SUMS values)."""
    return _deltas(events, lambda e: utc_day(e.start_time))


def hourly_deltas(events: Sequence[UsageEvent]) -> list[tuple[Any, ...]]:
    """Per (UTC hour, group) sums, as rows for the hourly rollup upsert:
    (hour_us, group_key, *ROLLUP_GROUPS values, *ROLLUP_SUMS values); hour_us is the hour's start."""
    return _deltas(events, lambda e: (us := to_us(e.start_time)) - us % HOUR_US)
