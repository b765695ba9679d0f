"""Budget periods aligned to the calendar in a timezone.

daily (local midnight), weekly (ISO week: Monday 00:00), monthly (the 1st), quarterly (Jan, Apr,
Jul, Oct 1st) and yearly (Jan 1st). Bounds are returned as UTC datetimes; a period is [start, end).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import ConfigError


def check_timezone(name: str) -> str:
    """`name` if it is an IANA timezone (`Europe/Berlin`, `UTC`); a ConfigError otherwise (a
    ValueError, so a pydantic validator reports it on its field)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"unknown timezone {name!r}: use an IANA name such as UTC, Europe/Berlin or America/New_York",
            field="timezone",
        ) from None
    return name


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _first_day(period: str, day: date) -> date:
    if period == "daily":
        return day
    if period == "weekly":
        return day - timedelta(days=day.weekday())
    if period == "monthly":
        return day.replace(day=1)
    if period == "quarterly":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    if period == "yearly":
        return date(day.year, 1, 1)
    raise ValueError(f"unknown budget period {period!r}")


def _next_first_day(period: str, first: date) -> date:
    if period == "daily":
        return first + timedelta(days=1)
    if period == "weekly":
        return first + timedelta(days=7)
    months = {"monthly": 1, "quarterly": 3, "yearly": 12}[period]
    total = first.month - 1 + months
    return date(first.year + total // 12, total % 12 + 1, 1)


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def period_bounds(period: str, tz_name: str, when: datetime) -> tuple[datetime, datetime]:
    """The [start, end) of the period containing `when`, in UTC."""
    tz = _zone(tz_name)
    local_day = when.astimezone(tz).date()
    first = _first_day(period, local_day)
    return _local_midnight(first, tz), _local_midnight(_next_first_day(period, first), tz)


def end_of_day(day: date, tz_name: str) -> datetime:
    """The instant a calendar day ends in a timezone (for `--until 2024-06-30`), in UTC."""
    return _local_midnight(day + timedelta(days=1), _zone(tz_name))
