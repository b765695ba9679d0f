"""The process-wide GenOps runtime: settings plus the live pipeline parts."""

from __future__ import annotations

import atexit
import logging
import threading
from typing import Any

from .config import Settings
from .events import Attribution
from .pricing import Pricer
from .processor import EventProcessor

logger = logging.getLogger("genops")

_runtime: Runtime | None = None
_lock = threading.RLock()


class Runtime:
    def __init__(self, settings: Settings, *, span_exporters: list[Any] | None = None, metric_readers: list[Any] | None = None) -> None:
        from .ledger import open_ledger
        from .ledger.sink import LedgerSink
        from .telemetry import Telemetry

        self.settings = settings
        a = settings.attribution
        self.defaults = Attribution(
            team=a.team,
            project=a.project,
            customer_id=a.customer_id,
            environment=settings.environment,
            service=settings.service_name,
            custom=dict(a.defaults),
        )
        self.pricer = Pricer.from_config(settings.pricing)
        self.ledger = open_ledger(settings.storage.url, allow_unreachable=True)  # an outage: events are spooled
        self.telemetry = Telemetry(settings, span_exporters=span_exporters, metric_readers=metric_readers)
        self._seed_customer_labels()
        from .alerts import build_alerts
        from .policy import build_engine

        self.alerts: Any = build_alerts(settings, self)  # None when no alert channels are configured
        self.policies: Any = build_engine(settings, self)  # None when no policies are configured
        self.ledger_sink = LedgerSink(self.ledger, batch_size=settings.storage.batch_size)  # spools during outages
        self.processor = EventProcessor([self.ledger_sink, self.telemetry], batch_size=settings.storage.batch_size,
                                        linger=settings.storage.flush_interval_seconds)
        self.instrumentations: list[Any] = []

    def _seed_customer_labels(self) -> None:
        """Give the top spenders of the last 30 days their own `customer_id` metric label first."""
        from datetime import timedelta

        from . import _clock
        from ._guard import guarded
        from .ledger import LedgerUnavailableError

        with guarded("runtime.seed_customers"):
            today = _clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
            try:
                rows = self.ledger.spend(today - timedelta(days=30), today + timedelta(days=1), ["customer_id"])
            except LedgerUnavailableError as exc:
                logger.warning("GenOps: ledger unavailable at start, no customer labels seeded: %s", exc)
                return
            top = [r.group["customer_id"] for r in rows if r.group["customer_id"]]
            self.telemetry.seed_customers(top[: self.settings.telemetry.customer_id_max_values])

    def flush(self) -> None:
        self.processor.flush()
        self.telemetry.force_flush()
        if self.alerts is not None:
            self.alerts.flush()

    def close(self) -> None:
        for handle in reversed(self.instrumentations):
            try:
                handle.uninstrument()
            except Exception:
                logger.exception("GenOps: failed to remove an instrumentation")
        self.instrumentations.clear()
        self.processor.close()
        if self.alerts is not None:
            self.alerts.close()
        self.telemetry.shutdown()
        if self.policies is not None:
            self.policies.close()
        self.ledger.close()


def get_runtime() -> Runtime | None:
    return _runtime


def start_runtime(settings: Settings, **extras: Any) -> Runtime:
    """Start (or restart) the runtime. `extras`: extra `span_exporters` / `metric_readers` (tests)."""
    global _runtime
    with _lock:
        if _runtime is not None:
            stop_runtime()
        _runtime = Runtime(settings, **extras)
        from .providers import instrument_configured

        _runtime.instrumentations = instrument_configured(settings)
        _log_started(_runtime)
        return _runtime


def _log_started(rt: Runtime) -> None:
    from .ledger.base import redact

    s = rt.settings
    logger.info(
        "GenOps initialized successfully: service=%s environment=%s ledger=%s exporters=%s policies=%d "
        "instrumented=%s",
        s.service_name, s.environment, redact(rt.ledger.url), ",".join(e.type for e in s.exporters) or "none",
        len(s.policies), ",".join(getattr(h, "name", "?") for h in rt.instrumentations),
    )  # fmt: skip


def stop_runtime() -> None:
    global _runtime
    with _lock:
        rt, _runtime = _runtime, None
        if rt is not None:
            rt.close()


@atexit.register
def _flush_at_exit() -> None:
    stop_runtime()
