"""SQL for reading the ledger: spend totals (from raw events, the hourly or the daily rollup) and event pages.

Statements use `?` placeholders; the PostgreSQL backend turns them into `%s`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import ConfigError
from .rows import DAILY_TABLE, EVENT_COLUMNS, EVENTS_TABLE, HOURLY_TABLE, ROLLUP_GROUPS, ROLLUP_SUMS

GROUP_FIELDS: tuple[str, ...] = (
    "team", "project", "customer_id", "provider", "model", "operation", "environment", "user_id", "operation_kind",
    "status", "service",
)  # fmt: skip
FILTER_FIELDS: tuple[str, ...] = (*GROUP_FIELDS, "request_model", "response_model")
# `attr:<key>` names a custom attribute (`GenOps.track(competitor=...)` -> `attr:competitor`).
CUSTOM_PREFIX = "attr:"
_CUSTOM_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,100}\Z")

Filters = dict[str, Any]


def custom_key(field: str) -> str | None:
    """The custom attribute key `field` names (`attr:competitor` -> `competitor`), else None."""
    if not field.startswith(CUSTOM_PREFIX):
        return None
    key = field[len(CUSTOM_PREFIX) :]
    if not _CUSTOM_KEY.match(key):
        raise ConfigError(
            f"bad custom attribute name {key!r}: use letters, digits, '_', '.' or '-' (at most 100)", field=field
        )
    return key


def _check_field(field: str, allowed: tuple[str, ...], what: str) -> str:
    if field in allowed or custom_key(field) is not None:
        return field
    raise ConfigError(
        f"cannot {what} spend by {field!r}; allowed: {', '.join(allowed)}, or {CUSTOM_PREFIX}<key> for a custom attribute",
        field="group_by" if what == "group" else field,
    )


def check_group_by(group_by: Sequence[str] | str) -> tuple[str, ...]:
    """The group-by fields, validated (a comma-separated string is accepted too)."""
    if isinstance(group_by, str):
        group_by = [g for g in (p.strip() for p in group_by.split(",")) if g]
    out: list[str] = []
    for field in group_by:
        _check_field(field, GROUP_FIELDS, "group")
        if field not in out:
            out.append(field)
    return tuple(out)


def check_filters(filters: Mapping[str, Any] | None) -> Filters:
    """Filters as {field: value | None | collection of values}, validated."""
    out: Filters = {}
    for field, value in (filters or {}).items():
        _check_field(field, FILTER_FIELDS, "filter")
        if isinstance(value, (list, tuple, set, frozenset)):
            value = tuple(sorted(value, key=lambda v: (v is None, str(v))))
        out[field] = value
    return out


def column(field: str, dialect: str) -> tuple[str, list[Any]]:
    """The SQL expression for a group/filter field and its parameters (custom attributes are read
    from the events' `attributes` JSON)."""
    key = custom_key(field)
    if key is None:
        return field, []
    if dialect == "postgres":
        return "(attributes::jsonb ->> ?)", [key]
    return "json_extract(attributes, ?)", [f'$."{key}"']


def where(filters: Filters, dialect: str = "sqlite") -> tuple[str, list[Any]]:
    """` AND ...` conditions for `filters` (None matches NULL) and their parameters."""
    parts: list[str] = []
    params: list[Any] = []
    for field, value in filters.items():
        expr, expr_params = column(field, dialect)
        if isinstance(value, tuple):
            values = [v for v in value if v is not None]
            alternatives = []
            if values:
                alternatives.append(f"{expr} IN ({', '.join('?' * len(values))})")
                params.extend(expr_params)
                params.extend(str(v) for v in values)
            if len(values) < len(value):
                alternatives.append(f"{expr} IS NULL")
                params.extend(expr_params)
            parts.append(f"({' OR '.join(alternatives)})" if alternatives else "1 = 0")
        elif value is None:
            parts.append(f"{expr} IS NULL")
            params.extend(expr_params)
        else:
            parts.append(f"{expr} = ?")
            params.extend([*expr_params, str(value)])
    return "".join(f" AND {p}" for p in parts), params


def rollup_can_answer(group_by: Iterable[str], filters: Filters) -> bool:
    return all(g in ROLLUP_GROUPS for g in group_by) and all(f in ROLLUP_GROUPS for f in filters)


def _select_groups(group_by: Sequence[str], dialect: str) -> tuple[str, list[Any], str]:
    """(`expr, expr, ` for the SELECT list, its parameters, ` GROUP BY 1, 2` or '')."""
    exprs, params = [], []
    for field in group_by:
        expr, expr_params = column(field, dialect)
        exprs.append(expr)
        params.extend(expr_params)
    select = "".join(f"{e}, " for e in exprs)
    group = f" GROUP BY {', '.join(str(i + 1) for i in range(len(exprs)))}" if exprs else ""
    return select, params, group


# Each spend statement returns: *group values, cost_pico, unknown_cost_requests, requests,
# input_tokens, output_tokens, inexact_cost_requests.


def raw_spend(
    group_by: Sequence[str], filters: Filters, start_us: int, end_us: int, dialect: str = "sqlite"
) -> tuple[str, list[Any]]:
    select, select_params, group = _select_groups(group_by, dialect)
    cond, params = where(filters, dialect)
    sql = (
        f"SELECT {select}"
        "COALESCE(SUM(cost_pico), 0), SUM(CASE WHEN cost_pico IS NULL THEN 1 ELSE 0 END), COUNT(*), "
        "COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cost_inexact), 0) "
        f"FROM {EVENTS_TABLE} WHERE start_us >= ? AND start_us < ?{cond}{group}"
    )
    return sql, [*select_params, start_us, end_us, *params]


def rollup_spend(
    group_by: Sequence[str], filters: Filters, first: str | int, end: str | int, table: str = DAILY_TABLE
) -> tuple[str, list[Any]]:
    """Spend from a rollup: whole UTC days [first, end) (`YYYY-MM-DD`) from the daily table, or
    whole UTC hours [first, end) (microseconds) from the hourly table."""
    bucket = "day" if table == DAILY_TABLE else "hour_us"
    select, _, group = _select_groups(group_by, "sqlite")
    cond, params = where(filters)
    sql = (
        f"SELECT {select}"
        "COALESCE(SUM(cost_pico), 0), COALESCE(SUM(unknown_cost_requests), 0), COALESCE(SUM(requests), 0), "
        "COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0), COALESCE(SUM(inexact_cost_requests), 0) "
        f"FROM {table} WHERE {bucket} >= ? AND {bucket} < ?{cond}{group}"
    )
    return sql, [first, end, *params]


def inexact_costs(
    group_by: Sequence[str], filters: Filters, start_us: int, end_us: int, dialect: str = "sqlite"
) -> tuple[str, list[Any]]:
    """Rows whose picodollars were rounded: *group values, cost_usd, cost_pico."""
    select, select_params, _ = _select_groups(group_by, dialect)
    cond, params = where(filters, dialect)
    sql = (
        f"SELECT {select}cost_usd, cost_pico FROM {EVENTS_TABLE} "
        f"WHERE cost_inexact = 1 AND start_us >= ? AND start_us < ?{cond}"
    )
    return sql, [*select_params, start_us, end_us, *params]


def event_page(
    filters: Filters,
    start_us: int | None,
    end_us: int | None,
    after: tuple[int, str] | None,
    limit: int,
    dialect: str = "sqlite",
    columns: Sequence[str] = EVENT_COLUMNS,
) -> tuple[str, list[Any]]:
    """One page of events (`columns`, then start_us and id) in (start_us, id) order, after the key `after`.

    The page's lower bound is one `start_us >= ?` term (the later of `start_us` and the key), so
    each page starts its index range scan where the previous one stopped."""
    cond, params = where(filters, dialect)
    bounds: list[str] = []
    values: list[Any] = []
    lower = start_us
    if after is not None:
        lower = after[0] if lower is None else max(lower, after[0])
    if lower is not None:
        bounds.append(" AND start_us >= ?")
        values.append(lower)
    if end_us is not None:
        bounds.append(" AND start_us < ?")
        values.append(end_us)
    if after is not None:
        bounds.append(" AND (start_us > ? OR id > ?)")
        values.extend([after[0], after[1]])
    sql = (
        f"SELECT {', '.join([*columns, 'start_us', 'id'])} FROM {EVENTS_TABLE} WHERE 1 = 1{''.join(bounds)}{cond} "
        f"ORDER BY start_us, id LIMIT {int(limit)}"
    )
    return sql, [*values, *params]


def count_events(start_us: int | None, end_us: int | None) -> tuple[str, list[Any]]:
    bounds = [(" AND start_us >= ?", start_us), (" AND start_us < ?", end_us)]
    sql = f"SELECT COUNT(*) FROM {EVENTS_TABLE} WHERE 1 = 1" + "".join(b for b, v in bounds if v is not None)
    return sql, [v for _, v in bounds if v is not None]


def insert_event_sql() -> str:
    return (
        f"INSERT INTO {EVENTS_TABLE} ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(EVENT_COLUMNS))}) "
        "ON CONFLICT (id) DO NOTHING"
    )


def upsert_rollup_sql(table: str = DAILY_TABLE) -> str:
    """Add delta rows (bucket, group_key, *ROLLUP_GROUPS, *ROLLUP_SUMS) to the daily or hourly rollup."""
    bucket = "day" if table == DAILY_TABLE else "hour_us"
    columns = (bucket, "group_key", *ROLLUP_GROUPS, *ROLLUP_SUMS)
    updates = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in ROLLUP_SUMS)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
        f"ON CONFLICT ({bucket}, group_key) DO UPDATE SET {updates}"
    )


def upsert_hourly_sql() -> str:
    return upsert_rollup_sql(HOURLY_TABLE)
