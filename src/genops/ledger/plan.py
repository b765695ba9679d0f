"""Which source answers which part of a spend query.

The ledger keeps two rollups of the same sums: per UTC day (`genops_daily_spend`) and per UTC hour
(`genops_hourly_spend`). A range [start, end) is split into

    raw head | hourly head | daily middle | hourly tail | raw tail

whole UTC days come from the daily rollup, the whole hours around them from the hourly rollup, and
only the sub-hour edges (a custom instant, or a timezone whose offset is not a whole hour, such as
Asia/Kolkata's +05:30) from raw events. So a calendar period in any whole-hour-offset timezone
(Europe/Berlin's local month starts at 23:00 or 22:00 UTC) reads at most 2 x 23 hourly buckets
plus the daily rows, whatever the number of events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .rows import DAY_US, HOUR_US, from_us

Source = Literal["raw", "hourly", "daily"]


@dataclass(frozen=True)
class Segment:
    """[start_us, end_us) answered from `source`; for "daily" the bounds are UTC midnights."""

    source: Source
    start_us: int
    end_us: int

    @property
    def days(self) -> tuple[str, str]:
        """The daily rollup's `day` bounds (`YYYY-MM-DD`), for a daily segment."""
        return from_us(self.start_us).date().isoformat(), from_us(self.end_us).date().isoformat()


def _ceil(us: int, unit: int) -> int:
    return -(-us // unit) * unit


def _floor(us: int, unit: int) -> int:
    return us - us % unit


def plan(start_us: int, end_us: int) -> list[Segment]:
    """The segments covering [start_us, end_us), in time order, none empty."""
    if end_us <= start_us:
        return []
    first_hour, last_hour = _ceil(start_us, HOUR_US), _floor(end_us, HOUR_US)
    if first_hour >= last_hour:
        return [Segment("raw", start_us, end_us)]
    first_day, last_day = _ceil(first_hour, DAY_US), _floor(last_hour, DAY_US)
    parts: list[tuple[Source, int, int]] = [("raw", start_us, first_hour)]
    if first_day < last_day:
        parts += [("hourly", first_hour, first_day), ("daily", first_day, last_day), ("hourly", last_day, last_hour)]
    else:
        parts.append(("hourly", first_hour, last_hour))
    parts.append(("raw", last_hour, end_us))
    return [Segment(source, lo, hi) for source, lo, hi in parts if lo < hi]
