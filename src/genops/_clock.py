"""Time sources. Everything in GenOps reads time through `clock` so tests can pin it."""

from __future__ import annotations

import time
from datetime import UTC, datetime


class Clock:
    """Wall time (UTC, timezone-aware) and a monotonic counter in nanoseconds."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic_ns(self) -> int:
        return time.perf_counter_ns()

    def sleep(self, seconds: float) -> None:
        """Wait (used by THROTTLE rate limits)."""
        if seconds > 0:
            time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        """Wait without blocking the event loop."""
        import asyncio

        await asyncio.sleep(max(seconds, 0))


class FakeClock(Clock):
    """A clock that only moves when told to. `advance(seconds)` moves both readings."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware datetime")
        self._now = start.astimezone(UTC)
        self._mono = 0

    def now(self) -> datetime:
        return self._now

    def monotonic_ns(self) -> int:
        return self._mono

    def advance(self, seconds: float) -> None:
        from datetime import timedelta

        self._now += timedelta(seconds=seconds)
        self._mono += int(seconds * 1e9)

    def sleep(self, seconds: float) -> None:
        """A fake wait: moves the clock instead of waiting."""
        if seconds > 0:
            self.advance(seconds)

    async def asleep(self, seconds: float) -> None:
        import asyncio

        self.sleep(seconds)
        await asyncio.sleep(0)


clock: Clock = Clock()


def set_clock(new: Clock) -> Clock:
    """Replace the process clock; returns the previous one."""
    global clock
    old, clock = clock, new
    return old


def now() -> datetime:
    return clock.now()


def monotonic_ns() -> int:
    return clock.monotonic_ns()


def sleep(seconds: float) -> None:
    clock.sleep(seconds)


async def asleep(seconds: float) -> None:
    await clock.asleep(seconds)
