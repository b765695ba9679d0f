"""The processor sink that records events in the ledger.

A failed write does not lose events: they stay in memory (up to `max_pending` events, oldest
dropped first with an error log) and are retried with the next batch and on every flush. Writes
are idempotent, so a retry after an ambiguous failure cannot double-count. A store outage
(`LedgerUnavailableError`) is logged as a warning; any other failure is reported as a GenOps
internal error and the batch is retried event by event, so one event that cannot be stored is
dropped (and logged) instead of blocking the rest. (A durable on-disk spool for long outages comes with the policies work.)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from .._guard import internal_error
from ..events import UsageEvent
from .base import Ledger, LedgerUnavailableError

logger = logging.getLogger("genops.ledger")


class LedgerSink:
    def __init__(self, ledger: Ledger, *, max_pending: int = 100_000) -> None:
        self.ledger = ledger
        self.max_pending = max_pending
        self._pending: list[UsageEvent] = []
        self._lock = threading.Lock()
        self.dropped = 0

    @property
    def pending(self) -> int:
        """Events waiting to be retried after a failed write."""
        return len(self._pending)

    def handle(self, batch: Sequence[tuple[UsageEvent, Any]]) -> None:
        with self._lock:
            self._pending.extend(event for event, _ctx in batch)
            self._write_pending()

    def flush(self) -> None:
        """Retry events left over from a failed write, if any."""
        with self._lock:
            self._write_pending()

    def close(self) -> None:
        """Nothing to release (the runtime closes the ledger); reports events that were never stored."""
        with self._lock:
            if self._pending:
                logger.error(
                    "GenOps: %d usage events could not be written to the ledger and are lost", len(self._pending)
                )
                self.dropped += len(self._pending)
                self._pending = []

    def _write_pending(self) -> None:
        if not self._pending:
            return
        try:
            self.ledger.write(self._pending)
        except LedgerUnavailableError as exc:
            logger.warning("GenOps: ledger write failed, %d events kept for retry: %s", len(self._pending), exc)
        except Exception as exc:  # noqa: BLE001 - a bad event must not block the others
            internal_error(exc, "LedgerSink.write")
            self._pending = self._write_one_by_one(self._pending)
        else:
            self._pending = []
            return
        overflow = len(self._pending) - self.max_pending
        if overflow > 0:
            del self._pending[:overflow]
            self.dropped += overflow
            logger.error("GenOps: ledger retry buffer full, dropped the %d oldest usage events", overflow)

    def _write_one_by_one(self, events: list[UsageEvent]) -> list[UsageEvent]:
        """After an unexpected failure: store what can be stored, drop events that cannot be
        written at all (logged), keep the rest for retry if the store goes away meanwhile."""
        for i, event in enumerate(events):
            try:
                self.ledger.write([event])
            except LedgerUnavailableError:
                return events[i:]
            except Exception as exc:  # noqa: BLE001
                internal_error(exc, f"LedgerSink.write (event {event.id} dropped)")
                self.dropped += 1
        return []
