"""Telemetry: spans and metrics as a view of usage events, exporters, the customer_id guard."""

from __future__ import annotations

import urllib.request
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import genops
from genops._runtime import start_runtime
from genops.config import ExporterConfig, Settings
from genops.events import Attribution, Cost, PolicyDecision, Usage, UsageEvent
from genops.telemetry import Telemetry
from genops.telemetry.cardinality import CardinalityGuard
from genops.telemetry.exporters import otlp_http_url, otlp_protocol
from genops.telemetry.global_provider import GLOBAL_TRACER_PROVIDER
from genops.telemetry.spans import epoch_ns

T0 = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)


def make_event(
    *,
    customer_id: str | None = "acme",
    team: str | None = "support",
    cost: Decimal | None = Decimal("0.5"),
    input_tokens: int | None = 1000,
    output_tokens: int | None = 250,
    model: str = "gpt-4-turbo",
    operation_kind: str = "chat",
    latency_ms: float = 1500.0,
    event_id: str = "ev-1",
    **overrides: Any,
) -> UsageEvent:
    """A priced OpenAI chat event, 1.5 s long, charged to support/acme unless told otherwise."""
    attribution = overrides.pop(
        "attribution",
        Attribution(
            team=team, project="chatbot", customer_id=customer_id, user_id="u-7", environment="production",
            operation="support_query", service="customer-support-chatbot", custom={"tier": "gold"},
        ),
    )
    usage = overrides.pop("usage", Usage(input_tokens=input_tokens, output_tokens=output_tokens))
    cost_obj = overrides.pop(
        "cost_obj",
        Cost(total=cost, input=Decimal("0.375") if cost is not None else None,
             output=Decimal("0.125") if cost is not None else None, version="2026-01"),
    )
    values: dict[str, Any] = {
        "id": event_id, "start_time": T0, "end_time": T0 + timedelta(milliseconds=latency_ms), "provider": "openai",
        "operation_kind": operation_kind, "request_model": model, "response_model": f"{model}-2024-04-09",
        "usage": usage, "cost": cost_obj, "attribution": attribution, "latency_ms": latency_ms,
    }
    values.update(overrides)
    return UsageEvent(**values)


def points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    """Every data point of metric `name` collected by `reader`."""
    data = reader.get_metrics_data()
    found: list[Any] = []
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == name:
                    found.extend(metric.data.data_points)
    return found


def by_attrs(reader: InMemoryMetricReader, name: str) -> dict[frozenset[Any], Any]:
    return {frozenset(p.attributes.items()): p for p in points(reader, name)}


GENOPS_ATTRS = {
    "team": "support", "project": "chatbot", "customer_id": "acme", "provider": "openai",
    "model": "gpt-4-turbo", "operation": "support_query", "environment": "production", "status": "ok",
}


@pytest.fixture
def telemetry(span_exporter: InMemorySpanExporter, metric_reader: InMemoryMetricReader) -> Any:
    """A Telemetry without the runtime, with in-memory exporters and a customer cap of 2."""
    settings = Settings(service_name="svc", environment="production", telemetry={"customer_id_max_values": 2})
    t = Telemetry(settings, span_exporters=[span_exporter], metric_readers=[metric_reader])
    yield t
    t.shutdown()


# -- spans ---------------------------------------------------------------------------------


def test_event_span_nests_under_track_span_with_exact_attributes(
    genops_runtime: Any, span_exporter: InMemorySpanExporter, fake_clock: Any
) -> None:
    runtime = genops_runtime(service_name="customer-support-chatbot", environment="production",
                             resource_attributes={"k8s.namespace.name": "ai"})
    with genops.track("support_query", team="support", customer_id="acme"):
        parent = otel_context.get_current()
        runtime.processor.submit(make_event(), parent)
    runtime.flush()

    spans = {s.name: s for s in span_exporter.get_finished_spans()}
    assert set(spans) == {"support_query", "chat gpt-4-turbo"}
    track, call = spans["support_query"], spans["chat gpt-4-turbo"]
    assert call.parent is not None and call.parent.span_id == track.context.span_id
    assert call.context.trace_id == track.context.trace_id
    assert call.kind is SpanKind.CLIENT
    assert call.start_time == epoch_ns(T0) == 1773144000 * 10**9
    assert call.end_time == call.start_time + 1_500_000_000
    assert call.status.status_code is StatusCode.UNSET
    assert dict(call.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4-turbo",
        "gen_ai.response.model": "gpt-4-turbo-2024-04-09",
        "gen_ai.request.stream": False,
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 250,
        "genops.team": "support",
        "genops.project": "chatbot",
        "genops.customer_id": "acme",
        "genops.user_id": "u-7",
        "genops.environment": "production",
        "genops.operation": "support_query",
        "genops.service": "customer-support-chatbot",
        "genops.tier": "gold",
        "genops.cost.total": 0.5,
        "genops.cost.total_str": "0.5",
        "genops.cost.currency": "USD",
        "genops.cost.input": 0.375,
        "genops.cost.output": 0.125,
        "genops.cost.known": True,
        "genops.price.source": "genai-prices",
        "genops.price.version": "2026-01",
        "genops.usage.provenance": "reported",
        "genops.stream": False,
        "genops.event_id": "ev-1",
        "genops.latency_ms": 1500.0,
        "genops.status": "ok",
    }
    resource = call.resource.attributes
    assert resource["service.name"] == "customer-support-chatbot"
    assert resource["deployment.environment.name"] == "production"
    assert resource["deployment.environment"] == "production"
    assert resource["k8s.namespace.name"] == "ai"


def test_cached_reasoning_units_and_exact_cost_string(telemetry: Telemetry, span_exporter: InMemorySpanExporter) -> None:
    usage = Usage(input_tokens=2000, output_tokens=900, cached_input_tokens=1500, cache_write_tokens=300,
                  reasoning_tokens=700, units={"search_units": 2}, provenance="estimated")
    cost = Cost(total=Decimal("0.000012345678901234"), source="override")
    telemetry.handle([(make_event(usage=usage, cost_obj=cost, stream=True, operation_kind="responses",
                                  model="o3-mini"), None)])
    (span,) = span_exporter.get_finished_spans()
    assert span.name == "responses o3-mini"
    assert span.parent is None
    a = span.attributes
    assert a["gen_ai.usage.cache_read.input_tokens"] == 1500
    assert a["gen_ai.usage.cache_creation.input_tokens"] == 300
    assert a["gen_ai.usage.reasoning.output_tokens"] == 700
    assert a["genops.usage.units.search_units"] == 2
    assert a["genops.usage.provenance"] == "estimated"
    assert a["genops.stream"] is True and a["gen_ai.request.stream"] is True
    assert a["genops.cost.total_str"] == "0.000012345678901234"
    assert a["genops.price.source"] == "override"
    assert "genops.cost.input" not in a and "genops.price.version" not in a


def test_cache_and_reasoning_attributes_absent_when_zero(telemetry: Telemetry, span_exporter: InMemorySpanExporter) -> None:
    telemetry.handle([(make_event(), None)])
    (span,) = span_exporter.get_finished_spans()
    assert not [k for k in span.attributes if "cache" in k or "reasoning" in k or "units" in k]


def test_unknown_cost_is_flagged_and_never_counted_as_zero(
    telemetry: Telemetry, span_exporter: InMemorySpanExporter, metric_reader: InMemoryMetricReader
) -> None:
    unknown = Cost(total=None, source="unknown-model")
    telemetry.handle([(make_event(model="acme-llm-9", cost_obj=unknown), None)])
    (span,) = span_exporter.get_finished_spans()
    assert span.attributes["genops.cost.known"] is False
    assert span.attributes["genops.cost.unknown_reason"] == "unknown-model"
    assert "genops.cost.total" not in span.attributes and "genops.cost.total_str" not in span.attributes
    assert points(metric_reader, "genops.cost.total") == []
    assert points(metric_reader, "genops.cost.per_request") == []
    (requests,) = points(metric_reader, "genops.requests")
    assert requests.value == 1 and requests.attributes["model"] == "acme-llm-9"
    (tokens,) = points(metric_reader, "genops.tokens.input")
    assert tokens.value == 1000


def test_error_event_span_status_and_error_type(
    telemetry: Telemetry, span_exporter: InMemorySpanExporter, metric_reader: InMemoryMetricReader
) -> None:
    event = make_event(status="error", error_type="APIConnectionError", usage=Usage.unavailable(),
                       cost_obj=Cost(total=None, source="failed-call"), response_model=None)
    telemetry.handle([(event, None)])
    (span,) = span_exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "APIConnectionError"
    assert span.attributes["error.type"] == "APIConnectionError"
    assert span.attributes["genops.status"] == "error"
    assert "gen_ai.usage.input_tokens" not in span.attributes
    (duration,) = points(metric_reader, "gen_ai.client.operation.duration")
    assert dict(duration.attributes) == {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4-turbo", "error.type": "APIConnectionError",
    }
    (requests,) = points(metric_reader, "genops.requests")
    assert requests.attributes["status"] == "error"
    assert points(metric_reader, "genops.tokens.input") == []


def test_policy_decisions_become_span_events_and_attributes(
    telemetry: Telemetry, span_exporter: InMemorySpanExporter
) -> None:
    decisions = (
        PolicyDecision("team_a_budget", "budget", "allow"),
        PolicyDecision("cheap_models", "model", "fallback", reason="MODEL_DENIED", detail="gpt-4 -> gpt-3.5-turbo"),
        PolicyDecision("spend_watch", "budget", "warn", reason="BUDGET_WARNING"),
    )
    telemetry.handle([(make_event(model="gpt-3.5-turbo", decisions=decisions, substituted_from="gpt-4"), None)])
    (span,) = span_exporter.get_finished_spans()
    assert span.attributes["genops.model.substituted_from"] == "gpt-4"
    assert span.attributes["genops.policy.result"] == "fallback"
    assert list(span.attributes["genops.policy.evaluated"]) == ["team_a_budget", "cheap_models", "spend_watch"]
    assert list(span.attributes["genops.policy.triggered"]) == ["cheap_models", "spend_watch"]
    events = [(e.name, dict(e.attributes), e.timestamp) for e in span.events]
    assert events == [
        ("genops.policy.decision", {"genops.policy.name": "team_a_budget", "genops.policy.type": "budget",
                                    "genops.policy.action": "allow"}, span.start_time),
        ("genops.policy.decision", {"genops.policy.name": "cheap_models", "genops.policy.type": "model",
                                    "genops.policy.action": "fallback", "genops.policy.reason": "MODEL_DENIED",
                                    "genops.policy.detail": "gpt-4 -> gpt-3.5-turbo"}, span.start_time),
        ("genops.policy.decision", {"genops.policy.name": "spend_watch", "genops.policy.type": "budget",
                                    "genops.policy.action": "warn", "genops.policy.reason": "BUDGET_WARNING"},
         span.start_time),
    ]


def test_blocked_call_is_an_error_span_and_only_a_request_count(
    telemetry: Telemetry, span_exporter: InMemorySpanExporter, metric_reader: InMemoryMetricReader
) -> None:
    decision = PolicyDecision("team_a_budget", "budget", "block", reason="BUDGET_EXCEEDED")
    event = make_event(status="blocked", error_type="PolicyViolationError", decisions=(decision,),
                       usage=Usage(input_tokens=0, output_tokens=0, provenance="unavailable"),
                       cost_obj=Cost(total=Decimal(0), source="blocked"), response_model=None, latency_ms=0.2)
    telemetry.handle([(event, None)])
    (span,) = span_exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "blocked by policy (PolicyViolationError)"
    assert span.attributes["genops.policy.result"] == "block"
    assert span.attributes["genops.status"] == "blocked"
    (requests,) = points(metric_reader, "genops.requests")
    assert requests.value == 1 and requests.attributes["status"] == "blocked"
    for name in ("genops.cost.total", "genops.latency", "genops.tokens.input", "gen_ai.client.token.usage",
                 "gen_ai.client.operation.duration", "genops.cost.per_request"):
        assert points(metric_reader, name) == [], name


# -- metrics -------------------------------------------------------------------------------


def test_metrics_exact_sums_and_dashboard_attributes(
    telemetry: Telemetry, metric_reader: InMemoryMetricReader
) -> None:
    telemetry.handle([
        (make_event(event_id="a", cost=Decimal("0.5"), input_tokens=1000, output_tokens=250, latency_ms=1500.0), None),
        (make_event(event_id="b", cost=Decimal("0.25"), input_tokens=500, output_tokens=100, latency_ms=500.0), None),
        (make_event(event_id="c", cost=Decimal("0.125"), team="sales", input_tokens=10, output_tokens=1,
                    latency_ms=250.0), None),
    ])
    support = frozenset(GENOPS_ATTRS.items())
    sales = frozenset({**GENOPS_ATTRS, "team": "sales"}.items())

    cost = by_attrs(metric_reader, "genops.cost.total")
    assert set(cost) == {support, sales}
    assert cost[support].value == 0.75 and cost[sales].value == 0.125
    assert by_attrs(metric_reader, "genops.tokens.input")[support].value == 1500
    assert by_attrs(metric_reader, "genops.tokens.output")[support].value == 350
    assert by_attrs(metric_reader, "genops.requests")[support].value == 2
    latency = by_attrs(metric_reader, "genops.latency")[support]
    assert (latency.count, latency.sum, latency.min, latency.max) == (2, 2000.0, 500.0, 1500.0)
    per_request = by_attrs(metric_reader, "genops.cost.per_request")[support]
    assert (per_request.count, per_request.sum) == (2, 0.75)

    semconv = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
               "gen_ai.request.model": "gpt-4-turbo", "gen_ai.response.model": "gpt-4-turbo-2024-04-09"}
    usage = by_attrs(metric_reader, "gen_ai.client.token.usage")
    inputs = usage[frozenset({**semconv, "gen_ai.token.type": "input"}.items())]
    outputs = usage[frozenset({**semconv, "gen_ai.token.type": "output"}.items())]
    assert (inputs.count, inputs.sum) == (3, 1510) and (outputs.count, outputs.sum) == (3, 351)
    (duration,) = points(metric_reader, "gen_ai.client.operation.duration")
    assert dict(duration.attributes) == semconv
    assert (duration.count, duration.sum) == (3, 2.25)

    data = metric_reader.get_metrics_data()
    units = {m.name: m.unit for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert units == {
        "genops.cost.total": "USD", "genops.tokens.input": "{token}", "genops.tokens.output": "{token}",
        "genops.requests": "{request}", "genops.latency": "ms", "genops.cost.per_request": "USD",
        "gen_ai.client.token.usage": "{token}", "gen_ai.client.operation.duration": "s",
    }
    scopes = {sm.scope.name for rm in data.resource_metrics for sm in rm.scope_metrics}
    assert scopes == {"genops"}


def test_cost_counter_sums_a_batch_in_decimal(telemetry: Telemetry, metric_reader: InMemoryMetricReader) -> None:
    # Three $0.10 calls: float addition would give 0.30000000000000004; the batch adds Decimal 0.3.
    telemetry.handle([(make_event(event_id=str(i), cost=Decimal("0.1")), None) for i in range(3)])
    (point,) = points(metric_reader, "genops.cost.total")
    assert point.value == 0.3
    telemetry.handle([(make_event(event_id="4", cost=Decimal("0.2")), None)])  # the next batch adds on
    (point,) = points(metric_reader, "genops.cost.total")
    assert point.value == 0.3 + 0.2
    (requests,) = points(metric_reader, "genops.requests")
    assert requests.value == 4


def test_missing_attribution_fields_are_left_out_of_metric_attributes(
    telemetry: Telemetry, metric_reader: InMemoryMetricReader
) -> None:
    telemetry.handle([(make_event(attribution=Attribution(team="support")), None)])
    (point,) = points(metric_reader, "genops.cost.total")
    assert dict(point.attributes) == {"team": "support", "provider": "openai", "model": "gpt-4-turbo", "status": "ok"}


def test_customer_id_cap_reports_the_rest_as_other_on_metrics_only(
    telemetry: Telemetry, span_exporter: InMemorySpanExporter, metric_reader: InMemoryMetricReader
) -> None:
    # The fixture caps customer_id at 2 distinct values.
    telemetry.handle([
        (make_event(event_id="1", customer_id="c1", cost=Decimal("0.5")), None),
        (make_event(event_id="2", customer_id="c2", cost=Decimal("0.25")), None),
        (make_event(event_id="3", customer_id="c3", cost=Decimal("0.125")), None),
        (make_event(event_id="4", customer_id="c4", cost=Decimal("0.0625")), None),
        (make_event(event_id="5", customer_id="c1", cost=Decimal("0.5")), None),
    ])
    cost = {p.attributes["customer_id"]: p.value for p in points(metric_reader, "genops.cost.total")}
    assert cost == {"c1": 1.0, "c2": 0.25, "other": 0.1875}
    requests = {p.attributes["customer_id"]: p.value for p in points(metric_reader, "genops.requests")}
    assert requests == {"c1": 2, "c2": 1, "other": 2}
    span_customers = [s.attributes["genops.customer_id"] for s in span_exporter.get_finished_spans()]
    assert span_customers == ["c1", "c2", "c3", "c4", "c1"]


def test_seeded_top_customers_keep_their_label(telemetry: Telemetry, metric_reader: InMemoryMetricReader) -> None:
    assert telemetry.seed_customers(["bigco", "bigco", "megacorp", "third"]) == ["bigco", "megacorp"]
    telemetry.handle([
        (make_event(event_id="1", customer_id="early-bird"), None),
        (make_event(event_id="2", customer_id="megacorp"), None),
    ])
    requests = {p.attributes["customer_id"]: p.value for p in points(metric_reader, "genops.requests")}
    assert requests == {"other": 1, "megacorp": 1}


def test_cardinality_guard_rules() -> None:
    guard = CardinalityGuard(1)
    assert guard.admit("a") == "a" and guard.admit("b") == "other" and guard.admit("a") == "a"
    assert guard.admitted == frozenset({"a"}) and guard.full
    assert CardinalityGuard(0).admit("a") == "other"
    with pytest.raises(ValueError, match="customer_id_max_values"):
        CardinalityGuard(-1)


def test_runtime_uses_configured_cap(genops_runtime: Any, metric_reader: InMemoryMetricReader) -> None:
    runtime = genops_runtime(telemetry={"customer_id_max_values": 1})
    for i, customer in enumerate(["first", "second"]):
        runtime.processor.submit(make_event(event_id=str(i), customer_id=customer), None)
    runtime.flush()
    assert sorted(p.attributes["customer_id"] for p in points(metric_reader, "genops.requests")) == ["first", "other"]


# -- global tracer provider ------------------------------------------------------------------


def test_application_spans_share_the_pipeline_and_follow_a_restart(
    genops_runtime: Any, span_exporter: InMemorySpanExporter, metric_reader: InMemoryMetricReader
) -> None:
    runtime = genops_runtime()
    if not runtime.telemetry.owns_global_tracer:
        pytest.skip("another TracerProvider was set globally before GenOps in this process")
    assert trace.get_tracer_provider() is GLOBAL_TRACER_PROVIDER
    app_tracer = trace.get_tracer("my.app")
    with app_tracer.start_as_current_span("handle_request") as app_span:
        runtime.processor.submit(make_event(), otel_context.get_current())
    runtime.flush()
    spans = {s.name: s for s in span_exporter.get_finished_spans()}
    assert spans["chat gpt-4-turbo"].parent.span_id == app_span.get_span_context().span_id
    assert spans["handle_request"].resource.attributes["service.name"] == "genops-app"

    # A second init takes the global pipeline over; the tracer obtained before follows it.
    second = InMemorySpanExporter()
    start_runtime(Settings(service_name="second", exporters=[{"type": "none"}], storage={"url": runtime.settings.storage.url}),
                  span_exporters=[second], metric_readers=[InMemoryMetricReader()])
    with app_tracer.start_as_current_span("after_restart"):
        pass
    assert [s.name for s in second.get_finished_spans()] == ["after_restart"]
    assert "after_restart" not in {s.name for s in span_exporter.get_finished_spans()}


def test_shutdown_releases_the_global_pipeline(span_exporter: InMemorySpanExporter) -> None:
    t = Telemetry(Settings(), span_exporters=[span_exporter])
    if not t.owns_global_tracer:
        t.shutdown()
        pytest.skip("another TracerProvider was set globally before GenOps in this process")
    t.shutdown()
    t.shutdown()  # idempotent
    with trace.get_tracer("my.app").start_as_current_span("orphan") as span:
        assert not span.is_recording()
    t.handle([(make_event(), None)])  # after shutdown: ignored, no error
    assert span_exporter.get_finished_spans() == ()


# -- exporter configuration --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "protocol", "expected"),
    [
        ("http://otel-collector.techcorp.com:4317", None, "grpc"),
        ("otel-collector:4317", None, "grpc"),
        ("http://otel-collector:4318", None, "http"),
        ("https://otlp.example.com/otlp/v1/traces", None, "http"),
        ("https://otlp.example.com", None, "grpc"),
        ("http://otel-collector:4317", "http", "http"),
    ],
)
def test_otlp_protocol_from_endpoint(endpoint: str, protocol: str | None, expected: str) -> None:
    assert otlp_protocol(ExporterConfig(type="otlp", endpoint=endpoint, protocol=protocol)) == expected


def test_otlp_protocol_without_endpoint_follows_otel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    assert otlp_protocol(ExporterConfig(type="otlp")) == "http"
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_PROTOCOL")
    assert otlp_protocol(ExporterConfig(type="otlp")) == "grpc"


@pytest.mark.parametrize(
    ("endpoint", "traces", "metrics"),
    [
        ("http://collector:4318", "http://collector:4318/v1/traces", "http://collector:4318/v1/metrics"),
        ("http://collector:4318/", "http://collector:4318/v1/traces", "http://collector:4318/v1/metrics"),
        ("collector:4318", "http://collector:4318/v1/traces", "http://collector:4318/v1/metrics"),
        ("https://host/otlp", "https://host/otlp/v1/traces", "https://host/otlp/v1/metrics"),
        ("https://host/otlp/v1/traces", "https://host/otlp/v1/traces", "https://host/otlp/v1/metrics"),
    ],
)
def test_otlp_http_signal_urls(endpoint: str, traces: str, metrics: str) -> None:
    assert otlp_http_url(endpoint, "traces") == traces
    assert otlp_http_url(endpoint, "metrics") == metrics


def test_console_exporter_prints_spans_and_metrics(capfd: pytest.CaptureFixture[str]) -> None:
    t = Telemetry(Settings(exporters=[{"type": "console"}]))
    try:
        t.handle([(make_event(), None)])
        assert t.force_flush()
    finally:
        t.shutdown()
    out = capfd.readouterr().out
    assert '"name": "chat gpt-4-turbo"' in out
    assert '"genops.customer_id": "acme"' in out
    assert '"name": "genops.cost.total"' in out


def test_prometheus_exporter_serves_the_dashboard_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("opentelemetry.exporter.prometheus", reason="the [prometheus] extra is not installed")
    monkeypatch.setenv("GENOPS_PROMETHEUS_HOST", "127.0.0.1")
    t = Telemetry(Settings(exporters=[{"type": "prometheus", "port": 0}]))
    try:
        t.handle([(make_event(cost=Decimal("0.5")), None), (make_event(event_id="2", cost=Decimal("0.25")), None)])
        with urllib.request.urlopen(f"http://127.0.0.1:{t.prometheus_port}/metrics", timeout=10) as response:
            body = response.read().decode()
    finally:
        t.shutdown()
    # OTel -> Prometheus naming: unit appended, counters end in _total ("genops.cost.total", USD).
    cost_lines = [line for line in body.splitlines() if line.startswith("genops_cost_USD_total{")]
    assert len(cost_lines) == 1, body
    assert 'team="support"' in cost_lines[0] and 'customer_id="acme"' in cost_lines[0]
    assert cost_lines[0].endswith(" 0.75")
