"""Exporters from `genops.yaml`: `otlp` (gRPC or HTTP), `console`, `prometheus`, `none`.

    exporters:
      - type: otlp
        endpoint: http://otel-collector:4317     # gRPC (port 4318 or a /v1/ path means HTTP)
        protocol: grpc                           # optional: grpc | http
        headers: {api-key: "${COLLECTOR_KEY}"}

Spans go through a `BatchSpanProcessor` (export never runs on the caller's thread); metrics
through a `PeriodicExportingMetricReader` every `telemetry.metric_export_interval_seconds`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlparse, urlunparse

from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExporter

from ..config import ExporterConfig, Settings
from ..errors import ConfigError

Protocol = Literal["grpc", "http"]
_SIGNAL_PATHS = {"traces": "/v1/traces", "metrics": "/v1/metrics"}


@dataclass
class ExportPlan:
    """What `Telemetry` wires up: span exporters (batched) and metric readers."""

    span_exporters: list[SpanExporter] = field(default_factory=list)
    metric_readers: list[MetricReader] = field(default_factory=list)
    closers: list[Callable[[], None]] = field(default_factory=list)  # run at shutdown (after the readers)
    prometheus_port: int | None = None  # the bound scrape port, when a prometheus exporter is configured


def otlp_protocol(cfg: ExporterConfig) -> Protocol:
    """`cfg.protocol`, else HTTP when the endpoint's port is 4318 or its path has `/v1/`, else gRPC.

    Without an endpoint the standard `OTEL_EXPORTER_OTLP_PROTOCOL` variable decides (gRPC if unset).
    """
    if cfg.protocol:
        return cfg.protocol
    if not cfg.endpoint:
        env = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        return "http" if env.startswith("http") else "grpc"
    url = urlparse(_with_scheme(cfg.endpoint))
    try:
        port = url.port
    except ValueError as exc:
        raise ConfigError(f"exporters: bad OTLP endpoint {cfg.endpoint!r} ({exc})", field="exporters.endpoint") from None
    if port == 4318 or "/v1/" in url.path:
        return "http"
    return "grpc"


def otlp_http_url(endpoint: str, signal: Literal["traces", "metrics"]) -> str:
    """The URL an OTLP/HTTP exporter posts `signal` to.

    A bare endpoint (`http://collector:4318`, or a base path like `https://host/otlp`) gets
    `/v1/traces` or `/v1/metrics` appended (the OTLP spec's rule for the base endpoint); an
    endpoint that already names a signal path gets the path of the signal asked for.
    """
    url = urlparse(_with_scheme(endpoint))
    path = url.path.rstrip("/")
    for suffix in _SIGNAL_PATHS.values():
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    return urlunparse(url._replace(path=path + _SIGNAL_PATHS[signal]))


def _with_scheme(endpoint: str) -> str:
    # `collector:4317` means a plain-text connection (a local or in-cluster collector);
    # write `https://...` for TLS.
    return endpoint if "://" in endpoint else f"http://{endpoint}"


def _otlp(cfg: ExporterConfig, plan: ExportPlan, interval_ms: float) -> None:
    protocol = otlp_protocol(cfg)
    headers = dict(cfg.headers) or None
    timeout = cfg.timeout_seconds
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        endpoint = _with_scheme(cfg.endpoint) if cfg.endpoint else None
        span_exp: Any = OTLPSpanExporter(endpoint=endpoint, headers=headers, timeout=timeout)
        metric_exp: Any = OTLPMetricExporter(endpoint=endpoint, headers=headers, timeout=timeout)
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter

        traces_url = otlp_http_url(cfg.endpoint, "traces") if cfg.endpoint else None
        metrics_url = otlp_http_url(cfg.endpoint, "metrics") if cfg.endpoint else None
        span_exp = HttpSpanExporter(endpoint=traces_url, headers=headers, timeout=timeout)
        metric_exp = HttpMetricExporter(endpoint=metrics_url, headers=headers, timeout=timeout)
    plan.span_exporters.append(span_exp)
    plan.metric_readers.append(PeriodicExportingMetricReader(metric_exp, export_interval_millis=interval_ms))


def _prometheus(cfg: ExporterConfig, plan: ExportPlan) -> None:
    """A `/metrics` scrape endpoint on `cfg.port` (default 9464; 0 picks a free port)."""
    try:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import CollectorRegistry, start_http_server
    except ImportError:
        raise ConfigError(
            "exporters: type 'prometheus' needs the Prometheus exporter: pip install 'genops-ai[prometheus]'",
            field="exporters.type",
        ) from None
    registry = CollectorRegistry()  # our own, so a restarted runtime can serve again
    plan.metric_readers.append(PrometheusMetricReader(registry=registry))
    host = os.environ.get("GENOPS_PROMETHEUS_HOST", "0.0.0.0")
    port = 9464 if cfg.port is None else cfg.port
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise ConfigError(f"exporters: prometheus cannot listen on {host}:{port} ({exc})", field="exporters.port") from None
    plan.prometheus_port = server.server_port

    def close() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    plan.closers.append(close)


def build_export_plan(settings: Settings) -> ExportPlan:
    """Exporters and readers for every entry of `settings.exporters` (an empty list exports nothing)."""
    plan = ExportPlan()
    interval_ms = settings.telemetry.metric_export_interval_seconds * 1000
    for cfg in settings.exporters:
        if cfg.type == "otlp":
            _otlp(cfg, plan, interval_ms)
        elif cfg.type == "console":
            # sys.stdout as of now (the exporters' defaults are bound when OTel is imported).
            plan.span_exporters.append(ConsoleSpanExporter(out=sys.stdout))
            plan.metric_readers.append(
                PeriodicExportingMetricReader(ConsoleMetricExporter(out=sys.stdout), export_interval_millis=interval_ms)
            )
        elif cfg.type == "prometheus":
            _prometheus(cfg, plan)
        # "none": nothing
    return plan
