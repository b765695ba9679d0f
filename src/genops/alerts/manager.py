"""`AlertManager`: budget crossings in, messages out, off the calling thread.

The policy engine claims each threshold crossing in the shared store (one process wins per
policy, scope, period and threshold) and calls `budget_threshold(crossing)` on the thread that
settled the call. That only enqueues. A background thread reads the period's top cost drivers
from the ledger and hands the rendered alert to one sender thread per channel, which delivers
it with bounded retries and exponential backoff. Failures are logged (`genops.alerts`), never
raised into the application; a slow or dead channel does not delay the others.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .._guard import internal_error
from ..policy.crossing import BudgetCrossing
from .channels import Channel, DeliveryError, build_channel
from .config import AlertsConfig
from .drivers import Drivers, find_rule, read_drivers
from .message import BudgetAlert, subject

logger = logging.getLogger("genops.alerts")

_STOP = object()


@dataclass
class DeliveryStats:
    """Counts since start (for `genops doctor`, logs and tests)."""

    received: int = 0  # crossings handed to the manager
    sent: int = 0  # (alert, channel) deliveries that succeeded
    failed: int = 0  # (alert, channel) deliveries given up after every attempt
    retried: int = 0  # failed attempts that were retried
    last_errors: list[str] = field(default_factory=list)  # "channel: error", most recent last (10 kept)


class _ChannelSender:
    """One channel's queue and sender thread."""

    def __init__(self, channel: Channel, manager: AlertManager) -> None:
        self.channel = channel
        self.manager = manager
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name=f"genops-alerts-{channel.name}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            if item is _STOP:
                return
            try:
                self.manager._deliver(self.channel, item)
            finally:
                self.manager._done()


class AlertManager:
    """Sends budget threshold alerts to the configured channels. Thread-safe; never raises."""

    def __init__(self, config: AlertsConfig, runtime: Any = None, *, channels: Sequence[Channel] | None = None) -> None:
        self.config = config
        self.runtime = runtime
        self.channels = list(channels) if channels is not None else [build_channel(c) for c in config.channels]
        self.stats = DeliveryStats()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._pending = 0  # crossings and deliveries not finished yet
        self._idle = threading.Condition()
        self._closed = False
        self._stop_backoff = threading.Event()
        self._senders = [_ChannelSender(ch, self) for ch in self.channels]
        self._thread = threading.Thread(target=self._run, name="genops-alerts", daemon=True)
        self._thread.start()

    # -- called by the policy engine ------------------------------------------------------------

    def budget_threshold(self, crossing: BudgetCrossing) -> None:
        """Queue an alert for `crossing` and return at once (no I/O on the caller's thread)."""
        if self._closed:
            logger.warning("GenOps alert after shutdown not sent: %s reached %s%% (%s)",
                           crossing.policy, crossing.percent, crossing.scope)  # fmt: skip
            return
        with self._idle:
            self._pending += 1
            self.stats.received += 1
        self._queue.put(crossing)

    # -- lifecycle ----------------------------------------------------------------------------

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every alert queued so far was delivered or given up. False on timeout."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Deliver what is queued (up to `timeout` seconds), then stop the threads."""
        if self._closed:
            return
        if not self.flush(timeout):
            logger.warning("GenOps alerts: %d alert deliveries still pending at shutdown were dropped", self._pending)
        self._closed = True
        self._stop_backoff.set()
        self._queue.put(_STOP)
        for sender in self._senders:
            sender.queue.put(_STOP)
        self._thread.join(timeout=5)
        for sender in self._senders:
            sender.thread.join(timeout=5)

    # -- background ---------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            crossing = self._queue.get()
            if crossing is _STOP:
                return
            try:
                alert = self.render(crossing)
                targets = [s for s in self._senders if s.channel.accepts(alert)]
                if not targets:
                    logger.info("GenOps alert %s: no channel accepts it (filters)", subject(alert))
                with self._idle:
                    self._pending += len(targets)
                for sender in targets:
                    sender.queue.put(alert)
            except Exception as exc:  # noqa: BLE001 - a GenOps bug must not stop the alert thread
                internal_error(exc, "alerts.render")
            finally:
                self._done()

    def render(self, crossing: BudgetCrossing) -> BudgetAlert:
        """The alert for `crossing`, with the period's top drivers from the ledger."""
        rt = self.runtime
        rule = find_rule(rt, crossing.policy)
        ledger = getattr(rt, "ledger", None)
        drivers = Drivers((), (), crossing.spent, True)
        if ledger is not None and self.config.top_drivers:
            try:
                drivers = read_drivers(ledger, rule, crossing, self.config.top_drivers, self.config.ledger_wait_seconds)
            except Exception as exc:  # noqa: BLE001 - an unreadable ledger must not stop the alert
                logger.warning("GenOps alert for %s: cannot read the top cost drivers from the ledger (%s)",
                               crossing.policy, exc)  # fmt: skip
        settings = getattr(rt, "settings", None)
        return BudgetAlert(
            crossing=crossing,
            drivers=drivers,
            period=rule.policy.period if rule is not None else None,
            service=getattr(settings, "service_name", None),
            environment=getattr(settings, "environment", None),
        )

    def _deliver(self, channel: Channel, alert: BudgetAlert) -> None:
        attempts = self.config.retry_attempts
        for attempt in range(1, attempts + 1):
            try:
                channel.send(alert)
            except Exception as exc:  # noqa: BLE001 - any failure of a channel is retried, then logged
                error = str(exc) if isinstance(exc, DeliveryError) else f"{type(exc).__name__}: {exc}"
                with self._idle:
                    self.stats.last_errors = [*self.stats.last_errors, f"{channel.name}: {error}"][-10:]
                if attempt < attempts:
                    delay = self.config.retry_backoff_seconds * 2 ** (attempt - 1)
                    logger.warning("GenOps alert to %s channel %r failed (attempt %d of %d, retrying in %.2fs): %s",
                                   channel.type, channel.name, attempt, attempts, delay, error)  # fmt: skip
                    with self._idle:
                        self.stats.retried += 1
                    self._stop_backoff.wait(delay)
                    continue
                logger.error("GenOps alert to %s channel %r not delivered after %d attempts: %s (alert: %s)",
                             channel.type, channel.name, attempts, error, subject(alert))  # fmt: skip
                with self._idle:
                    self.stats.failed += 1
                return
            logger.info("GenOps alert sent to %s channel %r: %s", channel.type, channel.name, subject(alert))
            with self._idle:
                self.stats.sent += 1
            return

    def _done(self) -> None:
        with self._idle:
            self._pending -= 1
            if self._pending <= 0:
                self._idle.notify_all()


def build_alerts(settings: Any, runtime: Any = None) -> AlertManager | None:
    """The runtime's alert manager, or None when `alerts.channels` is empty (crossings are logged only)."""
    config = getattr(settings, "alerts", None)
    if not isinstance(config, AlertsConfig) or not config.channels:
        return None
    return AlertManager(config, runtime)
