"""SQL for reading the ledger: spend totals (from raw events or the daily rollup) and event pages.

Statements use `?` placeholders; the PostgreSQL backend turns them into `%s`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import ConfigError
from .rows import DAILY_TABLE, EVENT_COLUMNS, EVENTS_TABLE, ROLLUP_GROUPS, ROLLUP_SUMS

GROUP_FIELDS: tuple[str, ...] = (
    "team", "project", "customer_id", "provider", "model", "operation", "environment", "user_id", "operation_kind",
)  # fmt: skip
FILTER_FIELDS: tuple[str, ...] = (
    *GROUP_FIELDS, "service", "status", "request_model", "response_model",
)  # fmt: skip

Filters = dict[str, Any]


def check_group_by(group_by: Sequence[str] | str) -> tuple[str, ...]:
    """The group-by fields, validated (a comma-separated string is accepted too)."""
    if isinstance(group_by, str):
        group_by = [g for g in (p.strip() for p in group_by.split(",")) if g]
    out: list[str] = []
    for field in group_by:
        if field not in GROUP_FIELDS:
            raise ConfigError(f"cannot group spend by {field!r}; allowed: {', '.join(GROUP_FIELDS)}", field="group_by")
        if field not in out:
            out.append(field)
    return tuple(out)


def check_filters(filters: Mapping[str, Any] | None) -> Filters:
    """Filters as {field: value | None | collection of values}, validated."""
    out: Filters = {}
    for field, value in (filters or {}).items():
        if field not in FILTER_FIELDS:
            raise ConfigError(f"cannot filter spend by {field!r}; allowed: {', '.join(FILTER_FIELDS)}", field=field)
        if isinstance(value, (list, tuple, set, frozenset)):
            value = tuple(sorted(value, key=lambda v: (v is None, str(v))))
        out[field] = value
    return out


def where(filters: Filters) -> tuple[str, list[Any]]:
    """` AND ...` conditions for `filters` (None matches NULL) and their parameters."""
    parts: list[str] = []
    params: list[Any] = []
    for field, value in filters.items():
        if isinstance(value, tuple):
            values = [v for v in value if v is not None]
            alternatives = []
            if values:
                alternatives.append(f"{field} IN ({', '.join('?' * len(values))})")
                params.extend(str(v) for v in values)
            if len(values) < len(value):
                alternatives.append(f"{field} IS NULL")
            parts.append(f"({' OR '.join(alternatives)})" if alternatives else "1 = 0")
        elif value is None:
            parts.append(f"{field} IS NULL")
        else:
            parts.append(f"{field} = ?")
            params.append(str(value))
    return "".join(f" AND {p}" for p in parts), params


def rollup_can_answer(group_by: Iterable[str], filters: Filters) -> bool:
    return all(g in ROLLUP_GROUPS for g in group_by) and all(f in ROLLUP_GROUPS for f in filters)


# Each spend statement returns: *group values, cost_pico, unknown_cost_requests, requests,
# input_tokens, output_tokens, inexact_cost_requests.


def raw_spend(group_by: Sequence[str], filters: Filters, start_us: int, end_us: int) -> tuple[str, list[Any]]:
    cond, params = where(filters)
    groups = ", ".join(group_by)
    sql = (
        f"SELECT {groups + ', ' if groups else ''}"
        "COALESCE(SUM(cost_pico), 0), SUM(CASE WHEN cost_pico IS NULL THEN 1 ELSE 0 END), COUNT(*), "
        "COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cost_inexact), 0) "
        f"FROM {EVENTS_TABLE} WHERE start_us >= ? AND start_us < ?{cond}"
        f"{' GROUP BY ' + groups if groups else ''}"
    )
    return sql, [start_us, end_us, *params]


def rollup_spend(group_by: Sequence[str], filters: Filters, first_day: str, end_day: str) -> tuple[str, list[Any]]:
    """Spend over whole UTC days [first_day, end_day) from the daily rollup."""
    cond, params = where(filters)
    groups = ", ".join(group_by)
    sql = (
        f"SELECT {groups + ', ' if groups else ''}"
        "COALESCE(SUM(cost_pico), 0), COALESCE(SUM(unknown_cost_requests), 0), COALESCE(SUM(requests), 0), "
        "COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0), COALESCE(SUM(inexact_cost_requests), 0) "
        f"FROM {DAILY_TABLE} WHERE day >= ? AND day < ?{cond}"
        f"{' GROUP BY ' + groups if groups else ''}"
    )
    return sql, [first_day, end_day, *params]


def inexact_costs(group_by: Sequence[str], filters: Filters, start_us: int, end_us: int) -> tuple[str, list[Any]]:
    """Rows whose picodollars were rounded: *group values, cost_usd, cost_pico."""
    cond, params = where(filters)
    groups = ", ".join(group_by)
    sql = (
        f"SELECT {groups + ', ' if groups else ''}cost_usd, cost_pico FROM {EVENTS_TABLE} "
        f"WHERE cost_inexact = 1 AND start_us >= ? AND start_us < ?{cond}"
    )
    return sql, [start_us, end_us, *params]


def event_page(
    filters: Filters, start_us: int | None, end_us: int | None, after: tuple[int, str] | None, limit: int
) -> tuple[str, list[Any]]:
    """One page of events in (start_us, id) order, after the key `after`."""
    cond, params = where(filters)
    bounds: list[str] = []
    values: list[Any] = []
    if start_us is not None:
        bounds.append(" AND start_us >= ?")
        values.append(start_us)
    if end_us is not None:
        bounds.append(" AND start_us < ?")
        values.append(end_us)
    if after is not None:
        bounds.append(" AND (start_us > ? OR (start_us = ? AND id > ?))")
        values.extend([after[0], after[0], after[1]])
    sql = (
        f"SELECT {', '.join(EVENT_COLUMNS)} FROM {EVENTS_TABLE} WHERE 1 = 1{''.join(bounds)}{cond} "
        f"ORDER BY start_us, id LIMIT {int(limit)}"
    )
    return sql, [*values, *params]


def insert_event_sql() -> str:
    return (
        f"INSERT INTO {EVENTS_TABLE} ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(EVENT_COLUMNS))}) "
        "ON CONFLICT (id) DO NOTHING"
    )


def upsert_rollup_sql() -> str:
    columns = ("day", "group_key", *ROLLUP_GROUPS, *ROLLUP_SUMS)
    updates = ", ".join(f"{c} = {DAILY_TABLE}.{c} + excluded.{c}" for c in ROLLUP_SUMS)
    return (
        f"INSERT INTO {DAILY_TABLE} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
        f"ON CONFLICT (day, group_key) DO UPDATE SET {updates}"
    )
