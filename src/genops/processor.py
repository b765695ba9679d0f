"""The background half of the pipeline: events leave the calling thread here.

`submit` only appends to a buffer (no lock handed over, no thread woken). One daemon thread
wakes every `linger` seconds, takes everything buffered and hands it to the sinks (ledger,
telemetry) in batches of at most `batch_size`: one ledger transaction and one metrics update per
batch instead of per event. `flush()` wakes it at once and waits until everything submitted so
far is handled; it is called by `GenOps.shutdown()` and at interpreter exit, so a normal exit
loses nothing.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from typing import Any, Protocol

from ._guard import internal_error
from .events import UsageEvent

logger = logging.getLogger("genops")


class Sink(Protocol):
    def handle(self, batch: Sequence[tuple[UsageEvent, Any]]) -> None:
        """Consume a batch of (event, parent OTel context) pairs."""

    def flush(self) -> None: ...

    def close(self) -> None: ...


class EventProcessor:
    def __init__(self, sinks: list[Sink], batch_size: int = 500, linger: float = 0.1) -> None:
        self.sinks = sinks
        self.batch_size = batch_size
        self.linger = linger
        self._buffer: deque[tuple[UsageEvent, Any]] = deque()
        self._wake = threading.Event()
        self._drained = threading.Condition()
        self._taken = 0  # events taken from the buffer so far
        self._handled = 0  # events taken and handed to every sink so far
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="genops-processor", daemon=True)
        self._thread.start()

    def submit(self, event: UsageEvent, parent_context: Any = None) -> None:
        self._buffer.append((event, parent_context))
        if self._closed:
            # Closed (or closing while this event was appended): no thread will look at the
            # buffer again, so handle it here and nothing is dropped.
            self._drain()

    def flush(self, timeout: float = 30.0) -> bool:
        """Block until every event submitted before this call has reached every sink."""
        ok = True
        if not self._closed and self._thread.is_alive():
            self._wake.set()
            with self._drained:
                # Everything submitted so far is either taken (being handled) or still buffered;
                # events submitted from now on are not waited for (they may never stop coming).
                target = self._taken + len(self._buffer)
                ok = self._drained.wait_for(lambda: self._handled >= target, timeout)
        for sink in self.sinks:
            try:
                sink.flush()
            except Exception as exc:  # noqa: BLE001
                internal_error(exc, f"{type(sink).__name__}.flush")
        return ok

    def close(self) -> None:
        if self._closed:
            return
        self.flush()
        self._closed = True
        self._wake.set()
        self._thread.join(timeout=10)
        self._drain()  # anything submitted while closing
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:  # noqa: BLE001
                internal_error(exc, f"{type(sink).__name__}.close")

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.linger)
            self._wake.clear()
            self._drain()

    def _drain(self) -> None:
        while True:
            with self._drained:
                batch = [self._buffer.popleft() for _ in range(min(len(self._buffer), self.batch_size))]
                if not batch:
                    return
                self._taken += len(batch)
            try:
                self._dispatch(batch)
            finally:
                with self._drained:
                    self._handled += len(batch)
                    self._drained.notify_all()

    def _dispatch(self, batch: list[tuple[UsageEvent, Any]]) -> None:
        if not batch:
            return
        for sink in self.sinks:
            try:
                sink.handle(batch)
            except Exception as exc:  # noqa: BLE001 - a sink must never stop the others
                internal_error(exc, f"{type(sink).__name__}.handle")
