"""`Telemetry`: the OTel providers, exporters and the sink that turns usage events into spans + metrics."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

from .._guard import internal_error
from ..config import Settings
from ..events import UsageEvent
from . import names as n
from .cardinality import CardinalityGuard
from .exporters import build_export_plan
from .global_provider import adopt_global_metrics, adopt_global_tracing, release_global_tracing
from .metrics import MetricWriter
from .spans import SpanWriter

logger = logging.getLogger("genops")


def build_resource(settings: Settings) -> Resource:
    """service.name, deployment.environment(.name) and `resource_attributes` (these win over OTEL_RESOURCE_ATTRIBUTES)."""
    attrs: dict[str, Any] = {
        n.SERVICE_NAME: settings.service_name,
        n.DEPLOYMENT_ENVIRONMENT_NAME: settings.environment,
        n.DEPLOYMENT_ENVIRONMENT: settings.environment,
    }
    attrs.update(settings.resource_attributes)
    return Resource.create(attrs)


# Events handled between two voluntary GIL releases on the processor thread (bounds the wait an
# application thread can see behind a batch: ~8 x 50 us instead of the 5 ms switch interval).
YIELD_EVERY = 8


class Telemetry:
    """Spans and metrics as a view of usage events (a processor sink).

    `span_exporters` / `metric_readers`: extra destinations (tests pass in-memory ones); extra
    span exporters get a `SimpleSpanProcessor`, so a span is exported by the time `handle` returns.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        span_exporters: list[SpanExporter] | None = None,
        metric_readers: list[MetricReader] | None = None,
    ) -> None:
        self.settings = settings
        plan = build_export_plan(settings)
        self._closers = plan.closers
        self.prometheus_port = plan.prometheus_port
        self.resource = build_resource(settings)

        self.tracer_provider = TracerProvider(resource=self.resource, shutdown_on_exit=False)
        for exporter in plan.span_exporters:
            self.tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
        for exporter in span_exporters or ():
            self.tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
        self.meter_provider = MeterProvider(
            metric_readers=[*plan.metric_readers, *(metric_readers or ())],
            resource=self.resource,
            shutdown_on_exit=False,
        )
        self.tracer = self.tracer_provider.get_tracer(n.METER_NAME)
        self.meter = self.meter_provider.get_meter(n.METER_NAME)
        self.customers = CardinalityGuard(settings.telemetry.customer_id_max_values)
        self._spans = SpanWriter(self.tracer)
        self._metrics = MetricWriter(self.meter, self.customers)
        self.owns_global_tracer = (
            adopt_global_tracing(self, self.tracer_provider) if settings.telemetry.global_tracer_provider else False
        )
        self.owns_global_meter = adopt_global_metrics(self.meter_provider)
        self._shutdown = False
        self._lock = threading.Lock()

    def seed_customers(self, customer_ids: Iterable[str]) -> list[str]:
        """Give these customers (most important first, e.g. the ledger's top spenders) their own
        metric label ahead of first-come admission; returns those admitted."""
        return self.customers.seed(customer_ids)

    # -- sink protocol ---------------------------------------------------------------------

    def handle(self, batch: Sequence[tuple[UsageEvent, Any]]) -> None:
        """One span and the metric measurements per event (called on the processor thread)."""
        if self._shutdown:
            return
        write_span, record = self._spans.write, self._metrics.record
        totals: dict[int, Any] = {}
        for i, (event, parent_context) in enumerate(batch, 1):
            if i % YIELD_EVERY == 0:
                time.sleep(0)  # let the application's threads have the GIL between small runs
            try:
                write_span(event, parent_context)
                record(event, totals)
            except Exception as exc:  # noqa: BLE001 - one bad event must not lose the batch
                internal_error(exc, "telemetry.handle")
        try:
            self._metrics.add_totals(totals)
        except Exception as exc:  # noqa: BLE001
            internal_error(exc, "telemetry.handle")

    def flush(self) -> None:
        """Sink protocol. Export is asynchronous; `force_flush` pushes it out."""

    def close(self) -> None:
        """Sink protocol. The runtime calls `shutdown` separately, after the ledger is flushed."""

    # -- lifecycle -------------------------------------------------------------------------

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export every finished span and the current metric values now; False on timeout."""
        if self._shutdown:
            return True
        spans_ok = self.tracer_provider.force_flush(timeout_millis)
        metrics_ok = self.meter_provider.force_flush(timeout_millis)
        return bool(spans_ok and metrics_ok)

    def shutdown(self) -> None:
        """Flush and stop exporting (idempotent). The global forwarder is released first."""
        with self._lock:
            if self._shutdown:
                return
            self._shutdown = True
        release_global_tracing(self)
        for step in (self.tracer_provider.shutdown, self.meter_provider.shutdown, *self._closers):
            try:
                step()
            except Exception as exc:  # noqa: BLE001
                internal_error(exc, "telemetry.shutdown")
