"""Sharing one trace pipeline with the application.

When the application has not set a global TracerProvider, GenOps installs `GLOBAL_TRACER_PROVIDER`
as the global one. It forwards to the SDK provider of the live `Telemetry`, so the
application's own spans (and other instrumentations') are exported with GenOps' spans, and a
re-initialised GenOps (`GenOps.init` again, or a test starting a new runtime) takes the global
pipeline over; OTel itself lets the global provider be set only once per process. Tracers
handed out earlier follow the switch. With no live GenOps telemetry, spans are non-recording.

If the application set its own provider first, GenOps leaves it alone and exports its spans
through its own provider; parent/child links still hold because both read the same context.

Metrics have no such forwarder: the first GenOps MeterProvider becomes the global one only if
none was set (see `Telemetry`).
"""

from __future__ import annotations

import threading
from typing import Any

from opentelemetry import metrics, trace

_NOOP_PROVIDER = trace.NoOpTracerProvider()


class _ForwardingTracerProvider(trace.TracerProvider):
    """A global TracerProvider whose target can be replaced (the live GenOps SDK provider)."""

    def __init__(self) -> None:
        self._target: trace.TracerProvider = _NOOP_PROVIDER
        self.generation = 0

    @property
    def target(self) -> trace.TracerProvider:
        return self._target

    def retarget(self, provider: trace.TracerProvider | None) -> None:
        self._target = provider if provider is not None else _NOOP_PROVIDER
        self.generation += 1

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Any = None,
    ) -> trace.Tracer:
        return _ForwardingTracer(self, (instrumenting_module_name, instrumenting_library_version, schema_url, attributes))


class _ForwardingTracer(trace.Tracer):
    def __init__(self, provider: _ForwardingTracerProvider, args: tuple[Any, ...]) -> None:
        self._provider = provider
        self._args = args
        self._generation = -1
        self._tracer: trace.Tracer = trace.NoOpTracer()

    def _current(self) -> trace.Tracer:
        provider = self._provider
        if self._generation != provider.generation:
            self._generation = provider.generation
            self._tracer = provider.target.get_tracer(*self._args)
        return self._tracer

    def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
        return self._current().start_span(*args, **kwargs)

    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:
        return self._current().start_as_current_span(*args, **kwargs)


GLOBAL_TRACER_PROVIDER = _ForwardingTracerProvider()
_lock = threading.Lock()
_owner: object | None = None  # the Telemetry whose provider the forwarder points at


def adopt_global_tracing(owner: object, provider: trace.TracerProvider) -> bool:
    """Make `provider` receive the application's spans if the global provider is free or ours.

    Returns True when it does (the global provider is GenOps' forwarder).
    """
    global _owner
    with _lock:
        current = trace.get_tracer_provider()
        if isinstance(current, trace.ProxyTracerProvider):  # nobody set one yet
            trace.set_tracer_provider(GLOBAL_TRACER_PROVIDER)
            current = trace.get_tracer_provider()
        if current is not GLOBAL_TRACER_PROVIDER:
            return False
        GLOBAL_TRACER_PROVIDER.retarget(provider)
        _owner = owner
        return True


def release_global_tracing(owner: object) -> None:
    """Stop forwarding to `owner`'s provider (no-op if another Telemetry took over since)."""
    global _owner
    with _lock:
        if _owner is owner:
            GLOBAL_TRACER_PROVIDER.retarget(None)
            _owner = None


def adopt_global_metrics(provider: metrics.MeterProvider) -> bool:
    """Set `provider` as the global MeterProvider if none was set yet; True if it was."""
    with _lock:
        if type(metrics.get_meter_provider()).__name__ != "_ProxyMeterProvider":
            return False
        metrics.set_meter_provider(provider)
        return True
