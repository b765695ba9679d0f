"""Metrics of usage events: the `genops.*` dashboard contract plus the GenAI standard metrics.

`genops.*` metrics carry bare attribute names (team, project, customer_id, provider, model,
operation, environment, status) because the case study's Datadog dashboards and monitors query
exactly those (`sum:genops.cost.total{team:support} by {customer_id}`). `customer_id` passes
through the cardinality guard. `gen_ai.client.*` metrics carry the semconv attribute names.

Money on a metric is a float (OTel has no decimal type); the ledger holds the exact figure.
A call whose price is unknown adds nothing to `genops.cost.total` (it is never counted as $0);
its span says `genops.cost.known=false`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from opentelemetry.metrics import Meter

from ..events import UsageEvent
from . import names as n
from .cardinality import CardinalityGuard

_CACHE_LIMIT = 8192


class MetricWriter:
    """Records one event's measurements. Used by one thread (the processor)."""

    def __init__(self, meter: Meter, customers: CardinalityGuard) -> None:
        self.customers = customers
        self.cost_total = meter.create_counter(n.METRIC_COST_TOTAL, unit="USD", description="Cost of AI operations")
        self.tokens_input = meter.create_counter(n.METRIC_TOKENS_INPUT, unit="{token}", description="Input tokens")
        self.tokens_output = meter.create_counter(n.METRIC_TOKENS_OUTPUT, unit="{token}", description="Output tokens")
        self.requests = meter.create_counter(n.METRIC_REQUESTS, unit="{request}", description="Governed AI operations")
        self.latency = meter.create_histogram(
            n.METRIC_LATENCY, unit="ms", description="Latency of AI operations",
            explicit_bucket_boundaries_advisory=n.LATENCY_BUCKETS_MS,
        )
        self.cost_per_request = meter.create_histogram(
            n.METRIC_COST_PER_REQUEST, unit="USD", description="Cost of one AI operation (priced ones only)",
            explicit_bucket_boundaries_advisory=n.COST_BUCKETS_USD,
        )
        self.token_usage = meter.create_histogram(
            n.GEN_AI_CLIENT_TOKEN_USAGE, unit="{token}", description="Number of input and output tokens used",
            explicit_bucket_boundaries_advisory=n.TOKEN_USAGE_BUCKETS,
        )
        self.duration = meter.create_histogram(
            n.GEN_AI_CLIENT_OPERATION_DURATION, unit="s", description="GenAI operation duration",
            explicit_bucket_boundaries_advisory=n.DURATION_BUCKETS_S,
        )
        self._genops_attrs: dict[tuple[Any, ...], dict[str, str]] = {}
        self._gen_ai_attrs: dict[tuple[Any, ...], tuple[dict[str, str], dict[str, str], dict[str, str]]] = {}

    def genops_attributes(self, event: UsageEvent) -> dict[str, str]:
        """The bare-named attributes of the `genops.*` metrics (customer_id capped)."""
        a = event.attribution
        customer = self.customers.admit(a.customer_id) if a.customer_id is not None else None
        model = event.request_model or event.response_model
        key = (a.team, a.project, customer, event.provider, model, a.operation, a.environment, event.status)
        attrs = self._genops_attrs.get(key)
        if attrs is None:
            attrs = {name: value for name, value in zip(n.METRIC_ATTRIBUTES, key) if value is not None}
            if len(self._genops_attrs) >= _CACHE_LIMIT:
                self._genops_attrs.clear()
            self._genops_attrs[key] = attrs
        return attrs

    def gen_ai_attributes(self, event: UsageEvent) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
        """(operation attributes, + token type input, + token type output) with semconv names."""
        key = (event.operation_kind, event.provider, event.request_model, event.response_model, event.error_type)
        cached = self._gen_ai_attrs.get(key)
        if cached is None:
            base = {n.GEN_AI_OPERATION_NAME: event.operation_kind, n.GEN_AI_PROVIDER_NAME: event.provider}
            if event.request_model:
                base[n.GEN_AI_REQUEST_MODEL] = event.request_model
            if event.response_model:
                base[n.GEN_AI_RESPONSE_MODEL] = event.response_model
            if event.error_type:
                base[n.ERROR_TYPE] = event.error_type
            cached = (
                base,
                {**base, n.GEN_AI_TOKEN_TYPE: n.TOKEN_TYPE_INPUT},
                {**base, n.GEN_AI_TOKEN_TYPE: n.TOKEN_TYPE_OUTPUT},
            )
            if len(self._gen_ai_attrs) >= _CACHE_LIMIT:
                self._gen_ai_attrs.clear()
            self._gen_ai_attrs[key] = cached
        return cached

    def write(self, event: UsageEvent) -> None:
        """Record every measurement of one event."""
        totals: dict[int, _Totals] = {}
        self.record(event, totals)
        self.add_totals(totals)

    def record(self, event: UsageEvent, totals: dict[int, _Totals]) -> None:
        """Record one event's histogram measurements and add its counts to `totals`.

        Counters are added once per attribute set per batch (`add_totals`): the SDK's cost is per
        measurement, and a batch's events mostly share their attribution. Money is summed as
        Decimal, so a batch adds one exact float conversion. A call a policy blocked never ran:
        it counts in `genops.requests` (status=blocked) only.
        """
        attrs = self.genops_attributes(event)
        entry = totals.get(id(attrs))
        if entry is None:
            entry = totals[id(attrs)] = _Totals(attrs)
        entry.requests += 1
        if event.status == "blocked":
            return
        self.latency.record(event.latency_ms, attrs)
        total = event.cost.total
        if total is not None:
            entry.cost = total if entry.cost is None else entry.cost + total
            self.cost_per_request.record(float(total), attrs)
        usage = event.usage
        base, as_input, as_output = self.gen_ai_attributes(event)
        if usage.input_tokens is not None:
            entry.input_tokens = usage.input_tokens + (entry.input_tokens or 0)
            self.token_usage.record(usage.input_tokens, as_input)
        if usage.output_tokens is not None:
            entry.output_tokens = usage.output_tokens + (entry.output_tokens or 0)
            self.token_usage.record(usage.output_tokens, as_output)
        self.duration.record(event.latency_ms / 1000.0, base)

    def add_totals(self, totals: dict[int, _Totals]) -> None:
        """Add the counters gathered by `record`."""
        for entry in totals.values():
            attrs = entry.attrs
            self.requests.add(entry.requests, attrs)
            if entry.cost is not None:
                self.cost_total.add(float(entry.cost), attrs)
            if entry.input_tokens is not None:
                self.tokens_input.add(entry.input_tokens, attrs)
            if entry.output_tokens is not None:
                self.tokens_output.add(entry.output_tokens, attrs)


class _Totals:
    """Counter sums of one attribute set within one batch (`attrs` is the cached dict itself)."""

    __slots__ = ("attrs", "cost", "input_tokens", "output_tokens", "requests")

    def __init__(self, attrs: dict[str, str]) -> None:
        self.attrs = attrs
        self.requests = 0
        self.cost: Decimal | None = None
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
