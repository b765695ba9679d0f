"""Building the rollups from raw events: the `0003_hourly_spend` backfill and
`genops ledger rebuild-rollups`.

Both rollups (`genops_daily_spend` per UTC day, `genops_hourly_spend` per UTC hour) hold the same
sums as `Ledger.write` adds incrementally. Here the database sums raw events per hour and group
(one statement per UTC day of events, so progress can be shown), and the daily rows are the sums
of their hours. Group keys come from `rows.group_key`, the function the write path uses, so a
rebuilt rollup and later incremental writes agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .rows import (
    DAILY_TABLE,
    DAY_US,
    EVENTS_TABLE,
    HOUR_US,
    HOURLY_TABLE,
    ROLLUP_GROUPS,
    ROLLUP_SUMS,
    from_us,
    group_key,
)

Run = Callable[[str, Sequence[Any]], Any]  # returns a cursor (fetchall)
RunMany = Callable[[str, Sequence[Sequence[Any]]], Any]
Progress = Callable[[int, int], None]  # (days done, days in all)

_SUMS_SQL = (
    "COUNT(*), SUM(CASE WHEN cost_pico IS NULL THEN 1 ELSE 0 END), COALESCE(SUM(cost_inexact), 0), "
    "COALESCE(SUM(cost_pico), 0), COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0), "
    "COALESCE(SUM(cached_input_tokens), 0), COALESCE(SUM(reasoning_tokens), 0)"
)
_N_GROUPS = len(ROLLUP_GROUPS)


def _hour_sums_sql() -> str:
    groups = ", ".join(ROLLUP_GROUPS)
    by = ", ".join(str(i) for i in range(1, _N_GROUPS + 2))
    return (
        f"SELECT start_us / {HOUR_US}, {groups}, {_SUMS_SQL} FROM {EVENTS_TABLE} "
        f"WHERE start_us >= ? AND start_us < ? GROUP BY {by}"
    )


def _insert_sql(table: str) -> str:
    bucket = "day" if table == DAILY_TABLE else "hour_us"
    columns = (bucket, "group_key", *ROLLUP_GROUPS, *ROLLUP_SUMS)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def _bounds(run: Run) -> tuple[int, int] | None:
    row = run(f"SELECT MIN(start_us), MAX(start_us) FROM {EVENTS_TABLE}", ()).fetchone()
    if row is None or row[0] is None:
        return None
    first, last = int(row[0]), int(row[1])
    return first - first % DAY_US, last - last % DAY_US + DAY_US


def rebuild(
    run: Run, run_many: RunMany, tables: Sequence[str] = (DAILY_TABLE, HOURLY_TABLE), progress: Progress | None = None
) -> int:
    """Empty `tables` and refill them from raw events, one UTC day at a time. The caller holds the
    write lock and the transaction. Returns the number of events summed."""
    for table in tables:
        run(f"DELETE FROM {table}", ())
    bounds = _bounds(run)
    if bounds is None:
        if progress:
            progress(0, 0)
        return 0
    first, end = bounds
    days = (end - first) // DAY_US
    select, events = _hour_sums_sql(), 0
    for n, day_start in enumerate(range(first, end, DAY_US)):
        hourly: list[tuple[Any, ...]] = []
        daily: dict[str, list[Any]] = {}
        for row in run(select, (day_start, day_start + DAY_US)).fetchall():
            groups = tuple(row[1 : 1 + _N_GROUPS])
            sums = [int(v or 0) for v in row[1 + _N_GROUPS :]]
            key = group_key(groups)
            events += sums[0]
            hourly.append((int(row[0]) * HOUR_US, key, *groups, *sums))
            total = daily.get(key)
            if total is None:
                daily[key] = [*groups, *sums]
            else:
                for i, v in enumerate(sums):
                    total[_N_GROUPS + i] += v
        if hourly and HOURLY_TABLE in tables:
            run_many(_insert_sql(HOURLY_TABLE), hourly)
        if daily and DAILY_TABLE in tables:
            day = from_us(day_start).date().isoformat()
            run_many(_insert_sql(DAILY_TABLE), [(day, key, *values) for key, values in daily.items()])
        if progress:
            progress(n + 1, days)
    return events


def backfill_hourly(run: Run, run_many: RunMany) -> None:
    """Migration `0003_hourly_spend`: fill the new hourly rollup from the events already stored."""
    rebuild(run, run_many, tables=(HOURLY_TABLE,))
