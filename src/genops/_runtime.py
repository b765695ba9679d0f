"""The process-wide GenOps runtime: settings plus the live pipeline parts."""

from __future__ import annotations

import atexit
import logging
import threading
from typing import Any

from .config import Settings
from .events import Attribution
from .pricing import PriceOverride, Pricer
from .processor import EventProcessor

logger = logging.getLogger("genops")

_runtime: "Runtime | None" = None
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
        self.pricer = Pricer([PriceOverride(**o.model_dump()) for o in settings.pricing.overrides])
        self.ledger = open_ledger(settings.storage.url)
        self.telemetry = Telemetry(settings, span_exporters=span_exporters, metric_readers=metric_readers)
        from .policy import build_engine

        self.policies: Any = build_engine(settings, self)  # None when no policies are configured
        self.processor = EventProcessor(
            [LedgerSink(self.ledger), self.telemetry],
            batch_size=settings.storage.batch_size,
            interval=settings.storage.flush_interval_seconds,
        )
        self.instrumentations: list[Any] = []

    def flush(self) -> None:
        self.processor.flush()
        self.telemetry.force_flush()

    def close(self) -> None:
        for handle in reversed(self.instrumentations):
            try:
                handle.uninstrument()
            except Exception:  # noqa: BLE001
                logger.exception("GenOps: failed to remove an instrumentation")
        self.instrumentations.clear()
        self.processor.close()
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
        return _runtime


def stop_runtime() -> None:
    global _runtime
    with _lock:
        rt, _runtime = _runtime, None
        if rt is not None:
            rt.close()


@atexit.register
def _flush_at_exit() -> None:
    stop_runtime()
