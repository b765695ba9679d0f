"""Report periods: named (`this-month`, `last-week`, ...), a month (`2026-03`) or a range of days
(`2026-03-01..2026-03-31`), in a timezone.

A period is [start, end) as UTC instants, aligned to calendar days in its timezone (the reporting
timezone: `--tz`, else `reporting.timezone`, else UTC). Named periods are relative to an explicit
`now`, so they are reproducible. Calendar alignment is the budget periods' (`genops.policy.periods`):
weeks start on Monday, days at local midnight, so a day can be 23 or 25 hours long across a
daylight-saving change.

`previous_period` is what a report compares against: the calendar unit before (the month before
`last-month`, the week before `last-week`, the day before `yesterday`), the same number of days
before a range of days, and for a period still running (`today`, `this-week`, `this-month`) the
previous unit up to the same local time ("month to date vs last month to the same day and hour").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from ..errors import ConfigError
from ..policy.periods import check_timezone, end_of_day, period_bounds

PERIOD_NAMES: tuple[str, ...] = (
    "today", "yesterday", "this-week", "last-week", "this-month", "last-month", "last-7-days", "last-30-days",
)  # fmt: skip
_RANGE = re.compile(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})\Z")
_MONTH = re.compile(r"(\d{4})-(\d{2})\Z")
_UNITS = {"today": "daily", "yesterday": "daily", "this-week": "weekly", "last-week": "weekly",
          "this-month": "monthly", "last-month": "monthly"}  # fmt: skip


@lru_cache(maxsize=64)
@dataclass(frozen=True)
class Period:
    """[start, end) as aware UTC datetimes; `first_day`..`last_day` are the calendar days covered.

    `unit` is the calendar unit of a named or month period (daily, weekly, monthly), None for a
    range of days. `cut` is set on a comparison period that stops part-way (to date).
    """

    name: str
    start: datetime
    end: datetime
    first_day: date
    last_day: date
    timezone: str = "UTC"
    unit: str | None = None
    cut: datetime | None = None

    @property
    def days(self) -> str:
        return str(self.first_day) if self.first_day == self.last_day else f"{self.first_day} .. {self.last_day}"

    @property
    def label(self) -> str:
        """`this-month (2026-03-01 .. 2026-03-31, UTC)`, `2026-03-01 .. 2026-03-07 (UTC)` for a range,
        `2026-02-01 .. 2026-02-10 12:00 (UTC)` for a comparison period cut to date."""
        if self.cut is not None:
            local = self.cut.astimezone(ZoneInfo(self.timezone))
            return f"{self.first_day} .. {local:%Y-%m-%d %H:%M} ({self.timezone})"
        if self.name in PERIOD_NAMES:
            return f"{self.name} ({self.days}, {self.timezone})"
        return f"{self.days} ({self.timezone})"


def _days(name: str, first: date, last: date, tz: str, unit: str | None = None) -> Period:
    return Period(name, end_of_day(first - timedelta(days=1), tz), end_of_day(last, tz), first, last, tz, unit)


def _calendar(name: str, unit: str, when: datetime, tz: str) -> Period:
    start, end = period_bounds(unit, tz, when)
    zone = ZoneInfo(tz)
    first, last = start.astimezone(zone).date(), (end.astimezone(zone) - timedelta(days=1)).date()
    return Period(name, start, end, first, last, tz, unit)


def parse_period(text: str, now: datetime, tz: str = "UTC") -> Period:
    """The period `text` names, relative to `now` (aware; naive = UTC), in timezone `tz`.
    `last-7-days` is today and the 6 days before it; an explicit range includes both end days."""
    check_timezone(tz)
    name = text.strip().lower()
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    today = now.astimezone(ZoneInfo(tz)).date()
    if name == "today":
        return _days(name, today, today, tz, "daily")
    if name == "yesterday":
        return _days(name, today - timedelta(days=1), today - timedelta(days=1), tz, "daily")
    if name in ("this-week", "this-month"):
        return _calendar(name, name[5:] + "ly", now, tz)
    if name in ("last-week", "last-month"):
        this_start = period_bounds(name[5:] + "ly", tz, now)[0]
        return _calendar(name, name[5:] + "ly", this_start - timedelta(microseconds=1), tz)
    if name in ("last-7-days", "last-30-days"):
        n = int(name.split("-")[1])
        return _days(name, today - timedelta(days=n - 1), today, tz)
    month = _MONTH.match(name)
    if month:
        year, number = int(month[1]), int(month[2])
        if not 1 <= number <= 12:
            raise ConfigError(f"bad period {text!r}: month must be 01..12", field="period")
        return _calendar(name, "monthly", datetime(year, number, 1, 12, tzinfo=ZoneInfo(tz)), tz)
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
        f"unknown period {text!r}; use one of {', '.join(PERIOD_NAMES)}, YYYY-MM or YYYY-MM-DD..YYYY-MM-DD",
        field="period",
    )


def _shift_back(local: datetime, unit: str) -> datetime:
    """The same local wall time one calendar unit earlier (Mar 31 -> Feb 28 for a month)."""
    if unit == "daily":
        return local - timedelta(days=1)
    if unit == "weekly":
        return local - timedelta(days=7)
    year, month = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
    last_day = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return local.replace(year=year, month=month, day=min(local.day, last_day))


def previous_period(period: Period, now: datetime) -> Period:
    """The period `period` is compared against (see the module docstring)."""
    tz = period.timezone
    if period.unit is None:
        n = (period.last_day - period.first_day).days + 1
        first = period.first_day - timedelta(days=n)
        return _days("previous", first, period.first_day - timedelta(days=1), tz)
    before = _calendar("previous", period.unit, period.start - timedelta(microseconds=1), tz)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    if not period.start <= now < period.end:
        return before
    zone = ZoneInfo(tz)
    local_now = now.astimezone(zone).replace(tzinfo=None)
    cut = _shift_back(local_now, period.unit).replace(tzinfo=zone).astimezone(UTC)
    cut = min(max(cut, before.start), before.end)
    last = (cut - timedelta(microseconds=1)).astimezone(zone).date() if cut > before.start else before.first_day
    return Period("previous", before.start, cut, before.first_day, last, tz, period.unit, cut)
