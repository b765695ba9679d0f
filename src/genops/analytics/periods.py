"""Report periods: named (`this-month`, `last-7-days`, ...) or explicit (`2026-03-01..2026-03-31`).

A period is [start, end) in UTC, aligned to calendar days in a timezone (UTC for now). Named
periods are relative to an explicit `now`, so they are reproducible. Calendar alignment is the
same as budget periods' (`genops.policy.periods`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from ..errors import ConfigError
from ..policy.periods import end_of_day, period_bounds

PERIOD_NAMES: tuple[str, ...] = (
    "today", "yesterday", "this-week", "last-week", "this-month", "last-month", "last-7-days", "last-30-days",
)  # fmt: skip
_RANGE = re.compile(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})\Z")


@dataclass(frozen=True)
class Period:
    """[start, end) as aware UTC datetimes; `first_day`..`last_day` are the calendar days covered."""

    name: str
    start: datetime
    end: datetime
    first_day: date
    last_day: date
    timezone: str = "UTC"

    @property
    def days(self) -> str:
        return str(self.first_day) if self.first_day == self.last_day else f"{self.first_day} .. {self.last_day}"

    @property
    def label(self) -> str:
        """`this-month (2026-03-01 .. 2026-03-31, UTC)`, or `2026-03-01 .. 2026-03-07 (UTC)` for a range."""
        if self.name in PERIOD_NAMES:
            return f"{self.name} ({self.days}, {self.timezone})"
        return f"{self.days} ({self.timezone})"


def _days(name: str, first: date, last: date, tz: str) -> Period:
    return Period(name, end_of_day(first - timedelta(days=1), tz), end_of_day(last, tz), first, last, tz)


def _calendar(name: str, unit: str, when: datetime, tz: str) -> Period:
    start, end = period_bounds(unit, tz, when)
    zone = ZoneInfo(tz)
    return Period(
        name, start, end, start.astimezone(zone).date(), (end.astimezone(zone) - timedelta(days=1)).date(), tz
    )


def parse_period(text: str, now: datetime, tz: str = "UTC") -> Period:
    """The period `text` names, relative to `now` (aware). `last-7-days` is today and the 6 days
    before it; an explicit range includes both end days."""
    name = text.strip().lower()
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    today = now.astimezone(ZoneInfo(tz)).date()
    if name == "today":
        return _days(name, today, today, tz)
    if name == "yesterday":
        return _days(name, today - timedelta(days=1), today - timedelta(days=1), tz)
    if name in ("this-week", "this-month"):
        return _calendar(name, name[5:] + "ly", now, tz)
    if name in ("last-week", "last-month"):
        this_start = period_bounds(name[5:] + "ly", tz, now)[0]
        return _calendar(name, name[5:] + "ly", this_start - timedelta(microseconds=1), tz)
    if name in ("last-7-days", "last-30-days"):
        n = int(name.split("-")[1])
        return _days(name, today - timedelta(days=n - 1), today, tz)
    match = _RANGE.match(name)
    if match:
        try:
            first, last = date.fromisoformat(match[1]), date.fromisoformat(match[2])
        except ValueError as exc:
            raise ConfigError(f"bad period {text!r}: {exc}", field="period") from None
        if last < first:
            raise ConfigError(f"bad period {text!r}: the range ends before it starts", field="period")
        return _days(text.strip(), first, last, tz)
    raise ConfigError(
        f"unknown period {text!r}; use one of {', '.join(PERIOD_NAMES)}, or YYYY-MM-DD..YYYY-MM-DD", field="period"
    )
