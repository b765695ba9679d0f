"""The background half of the pipeline: events leave the calling thread here.

One daemon thread drains a queue in batches and hands each batch to the sinks (ledger,
telemetry, alert watchers). `flush()` waits until everything submitted so far is handled;
it is called by `GenOps.shutdown()` and at interpreter exit, so a normal exit loses nothing.
"""

from __future__ import annotations

import logging
import queue
import threading
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


class _Marker:
    def __init__(self) -> None:
        self.done = threading.Event()


class EventProcessor:
    def __init__(self, sinks: list[Sink], batch_size: int = 500) -> None:
        self.sinks = sinks
        self.batch_size = batch_size
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="genops-processor", daemon=True)
        self._thread.start()

    def submit(self, event: UsageEvent, parent_context: Any = None) -> None:
        if self._closed:
            # After shutdown: handle synchronously so nothing is dropped.
            self._dispatch([(event, parent_context)])
            return
        self._queue.put((event, parent_context))

    def flush(self, timeout: float = 30.0) -> bool:
        """Block until every event submitted before this call has reached every sink."""
        if self._closed or not self._thread.is_alive():
            return True
        marker = _Marker()
        self._queue.put(marker)
        ok = marker.done.wait(timeout)
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
        self._queue.put(None)
        self._thread.join(timeout=10)
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:  # noqa: BLE001
                internal_error(exc, f"{type(sink).__name__}.close")

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch: list[tuple[UsageEvent, Any]] = []
            markers: list[_Marker] = []
            while True:
                if isinstance(item, _Marker):
                    markers.append(item)
                elif item is None:
                    self._dispatch(batch)
                    for m in markers:
                        m.done.set()
                    return
                else:
                    batch.append(item)
                if len(batch) >= self.batch_size:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            self._dispatch(batch)
            for m in markers:
                m.done.set()

    def _dispatch(self, batch: list[tuple[UsageEvent, Any]]) -> None:
        if not batch:
            return
        for sink in self.sinks:
            try:
                sink.handle(batch)
            except Exception as exc:  # noqa: BLE001 - a sink must never stop the others
                internal_error(exc, f"{type(sink).__name__}.handle")
