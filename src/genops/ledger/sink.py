"""The processor sink that records events in the ledger, with a local spool for outages.

A batch the ledger cannot take because the store is unavailable (`LedgerUnavailableError`) is
appended to the ledger's spool (spool.py: an SQLite file under `$GENOPS_HOME`), nothing is kept
in memory. Spooled events are written back oldest first, in batches, before each new batch and
on every flush, and by a background retry thread every `retry_seconds` while any wait (so an
idle process catches up too); after a failed attempt, new batches go straight to the spool for
`retry_seconds` instead of waiting on the store again. An event leaves the spool only after the
ledger write committed; writes are idempotent, so a retry after an ambiguous failure cannot
double-count. A sink created while a spool left by an earlier process exists replays it in that
background thread (never on the caller's thread). At close, events still spooled stay there
(logged with their count and the spool path) and the next process using the same ledger writes
them; so do events handed to the sink after close. Any other write failure is a GenOps internal error: the batch is retried event by event and
an event that cannot be stored is dropped (logged); a spooled event the ledger rejects is set
aside in the spool. Only if the spool itself cannot be written are events lost, with an error log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from .._guard import internal_error
from ..events import UsageEvent
from .base import Ledger, LedgerUnavailableError, redact
from .spool import Spool, SpoolError

logger = logging.getLogger("genops.ledger")

RETRY_SECONDS = 5.0


class LedgerSink:
    """`handle(batch)` writes to the ledger, spooling what an outage refuses. Thread-safe."""

    def __init__(self, ledger: Ledger, *, spool: Spool | None = None, batch_size: int = 500,
                 retry_seconds: float = RETRY_SECONDS) -> None:  # fmt: skip
        self.ledger = ledger
        self.spool = spool if spool is not None else Spool.for_ledger(ledger.url)
        self.batch_size = batch_size
        self.retry_seconds = retry_seconds
        self.dropped = 0  # events lost: unstorable, or neither the ledger nor the spool took them
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._retrier: threading.Thread | None = None
        self._rest_until = 0.0  # time.monotonic(): handle() spools without trying the store until then
        self._down = False
        self._closed = False
        if self.spool.path.exists():  # maybe left by an earlier process: replay in the background
            with self._lock:
                self._start_retrier()

    @property
    def pending(self) -> int:
        """Events waiting in the spool for this ledger (from any process sharing it)."""
        try:
            return self.spool.count()
        except SpoolError as exc:
            logger.error("GenOps: cannot read the ledger spool: %s", exc)
            return 0

    def handle(self, batch: Sequence[tuple[UsageEvent, Any]]) -> None:
        events = [event for event, _ctx in batch]
        with self._lock:
            if self._closed:
                # After close (a stream read to its end after shutdown): the ledger is closed, so
                # the events wait in the spool for the next process, like an outage's.
                self._spool(events)
                self.spool.close()
            elif time.monotonic() < self._rest_until or not self._replay():
                self._spool(events)  # the store is down: keep the order, oldest first
            else:
                self._write(events)

    def flush(self) -> None:
        """Write spooled events to the ledger now, if the store takes them."""
        with self._lock:
            self._replay()

    def close(self) -> None:
        """Stop retrying; events still spooled stay there for the next process (logged)."""
        with self._lock:
            self._closed = True
            waiting = self.pending
            if waiting:
                logger.warning(
                    "GenOps: %d usage events wait in the spool %s until the ledger %s is reachable; "
                    "the next GenOps process using this ledger writes them",
                    waiting, self.spool.path, redact(self.ledger.url),
                )  # fmt: skip
            retrier, self._retrier = self._retrier, None
        self._stop.set()
        if retrier is not None and retrier is not threading.current_thread():
            retrier.join(timeout=30)
        self.spool.close()

    # -- internals (callers hold _lock) ----------------------------------------------------------

    def _write(self, events: list[UsageEvent]) -> None:
        try:
            self.ledger.write(events)
        except LedgerUnavailableError as exc:
            self._outage(exc)
            self._spool(events)
        except Exception as exc:  # noqa: BLE001 - a bad event must not block the others
            internal_error(exc, "LedgerSink.write")
            for i, event in enumerate(events):
                try:
                    self.ledger.write([event])
                except LedgerUnavailableError as unavailable:
                    self._outage(unavailable)
                    self._spool(events[i:])
                    return
                except Exception as err:  # noqa: BLE001
                    internal_error(err, f"LedgerSink.write (event {event.id} dropped)")
                    self.dropped += 1
        else:
            self._recovered()

    def _spool(self, events: list[UsageEvent]) -> None:
        if not events:
            return
        try:
            refused = self.spool.append(events)
        except SpoolError as exc:
            self.dropped += len(events)
            logger.error("GenOps: %d usage events could not be written to the ledger nor to its spool and are lost: %s",
                         len(events), exc)  # fmt: skip
            return
        for event, reason in refused:
            internal_error(reason, f"LedgerSink.spool (event {event.id} dropped)")
            self.dropped += 1
        self._start_retrier()

    def _replay(self) -> bool:
        """Write spooled events to the ledger, oldest first, in batches. False if the store is
        still unavailable (the rest stays spooled); True when no claimable event is left."""
        written = 0
        try:
            while self.spool.has_claimable():
                claimed = self.spool.claim(self.batch_size)
                if not claimed:
                    break
                seqs = [seq for seq, _event in claimed]
                try:
                    self.ledger.write([event for _seq, event in claimed])
                except LedgerUnavailableError as exc:
                    self.spool.release(seqs)
                    self._outage(exc)
                    return False
                except Exception as exc:  # noqa: BLE001
                    internal_error(exc, "LedgerSink.replay")
                    if not self._replay_one_by_one(claimed):
                        return False
                else:
                    self.spool.delete(seqs)
                written += len(claimed)
        except SpoolError as exc:
            logger.error("GenOps: cannot replay the ledger spool: %s", exc)
            return True  # new events still go to the ledger
        if written:
            logger.info("GenOps: wrote %d spooled usage events to the ledger", written)
            self._recovered()
        return True

    def _replay_one_by_one(self, claimed: list[tuple[int, UsageEvent]]) -> bool:
        for i, (seq, event) in enumerate(claimed):
            try:
                self.ledger.write([event])
            except LedgerUnavailableError as exc:
                self.spool.release([s for s, _e in claimed[i:]])
                self._outage(exc)
                return False
            except Exception as exc:  # noqa: BLE001
                internal_error(exc, f"LedgerSink.replay (event {event.id} set aside in {self.spool.path})")
                self.spool.set_aside(seq, repr(exc))
            else:
                self.spool.delete([seq])
        return True

    def _outage(self, exc: LedgerUnavailableError) -> None:
        self._rest_until = time.monotonic() + self.retry_seconds
        if not self._down:
            self._down = True
            logger.warning("GenOps: ledger unavailable, usage events go to the spool %s: %s", self.spool.path, exc)
        else:
            logger.debug("GenOps: ledger still unavailable: %s", exc)

    def _recovered(self) -> None:
        self._rest_until = 0.0
        if self._down:
            self._down = False
            logger.warning("GenOps: ledger reachable again")

    def _start_retrier(self) -> None:
        if self._retrier is None and not self._closed:
            self._stop.clear()
            self._retrier = threading.Thread(target=self._retry_loop, name="genops-ledger-spool", daemon=True)
            self._retrier.start()

    def _retry_loop(self) -> None:
        """Replay the spool now, then every `retry_seconds` until it is empty or the sink closes."""
        delay = 0.0
        while not self._stop.wait(delay):
            with self._lock:
                if self._closed or self._retrier is not threading.current_thread():
                    return
                try:
                    done = self._replay()
                except Exception as exc:  # noqa: BLE001 - the thread must end cleanly
                    internal_error(exc, "LedgerSink.retry")
                    done = True
                if done:
                    self._retrier = None
                    return
            delay = self.retry_seconds
