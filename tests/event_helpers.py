"""What a test's GenOps runtime recorded: ledger events and GenOps' call span."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from genops.events import UsageEvent


def recorded_events(rt: Any, **filters: Any) -> list[UsageEvent]:
    """The ledger's events (after a flush), filtered as `Ledger.events(**filters)`."""
    rt.flush()
    return list(rt.ledger.events(**filters))


def only_event(rt: Any) -> UsageEvent:
    """The one event the ledger holds (fails when there are none or several)."""
    events = recorded_events(rt)
    assert len(events) == 1, events
    return events[0]


def call_span_attributes(span_exporter: InMemorySpanExporter) -> dict[str, Any]:
    """The attributes of GenOps' one call span (an SDK emits its own spans too, under its own
    scope, and a `track` scope with an operation has an INTERNAL span)."""
    spans = [
        s
        for s in span_exporter.get_finished_spans()
        if s.instrumentation_scope.name == "genops" and s.kind == SpanKind.CLIENT
    ]
    assert len(spans) == 1, spans
    return dict(spans[0].attributes or {})
