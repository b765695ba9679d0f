"""One CLIENT span per usage event, named and attributed per the OTel GenAI conventions.

The span is created after the fact on the processor thread, with the event's own start and end
times, parented on the OTel context captured when the call started (so it nests under the
application's span or a `GenOps.track` span). Governance attributes are `genops.*`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from ..events import ATTRIBUTION_FIELDS, Attribution, PolicyDecision, UsageEvent
from . import names as n

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Strictest first: the span's genops.policy.result is the strictest action any policy took.
_ACTION_RANK = {"block": 4, "fallback": 3, "throttle": 2, "warn": 1, "allow": 0}
_ATTRIBUTION_KEYS = tuple((f, n.GENOPS_PREFIX + f) for f in ATTRIBUTION_FIELDS)
_CACHE_LIMIT = 4096


def epoch_ns(moment: datetime) -> int:
    """Nanoseconds since the Unix epoch, exact to the microsecond (naive times are UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def attribution_key(a: Attribution) -> tuple[Any, ...]:
    """A hashable identity for an attribution (its custom mapping is not hashable itself)."""
    custom = a.custom
    return (a.team, a.project, a.customer_id, a.user_id, a.environment, a.operation, a.service,
            tuple(sorted(custom.items())) if custom else ())


def span_name(event: UsageEvent) -> str:
    """`{operation} {model}` (GenAI convention), e.g. `chat gpt-4-turbo`; the operation alone without a model."""
    model = event.request_model or event.response_model
    return f"{event.operation_kind} {model}" if model else event.operation_kind


class SpanWriter:
    """Turns usage events into spans on `tracer`. Used by one thread (the processor)."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self.tracer = tracer
        self._attribution_cache: dict[tuple[Any, ...], dict[str, Any]] = {}

    def _attribution_attributes(self, a: Attribution) -> dict[str, Any]:
        key = attribution_key(a)
        cached = self._attribution_cache.get(key)
        if cached is None:
            cached = {attr: value for field, attr in _ATTRIBUTION_KEYS if (value := getattr(a, field)) is not None}
            for name, value in a.custom.items():
                cached[n.GENOPS_PREFIX + name] = value
            if len(self._attribution_cache) >= _CACHE_LIMIT:
                self._attribution_cache.clear()
            self._attribution_cache[key] = cached
        return cached

    def attributes(self, event: UsageEvent) -> dict[str, Any]:
        """Every span attribute of `event` (attribution first, so event facts win on a name clash)."""
        attrs = dict(self._attribution_attributes(event.attribution))
        attrs[n.GEN_AI_OPERATION_NAME] = event.operation_kind
        attrs[n.GEN_AI_PROVIDER_NAME] = event.provider
        attrs[n.GEN_AI_SYSTEM] = event.provider
        if event.request_model:
            attrs[n.GEN_AI_REQUEST_MODEL] = event.request_model
        if event.response_model:
            attrs[n.GEN_AI_RESPONSE_MODEL] = event.response_model
        attrs[n.GEN_AI_REQUEST_STREAM] = event.stream

        usage = event.usage
        if usage.input_tokens is not None:
            attrs[n.GEN_AI_USAGE_INPUT_TOKENS] = usage.input_tokens
        if usage.output_tokens is not None:
            attrs[n.GEN_AI_USAGE_OUTPUT_TOKENS] = usage.output_tokens
        if usage.cached_input_tokens:
            attrs[n.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = usage.cached_input_tokens
        if usage.cache_write_tokens:
            attrs[n.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = usage.cache_write_tokens
        if usage.reasoning_tokens:
            attrs[n.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = usage.reasoning_tokens
        for unit, count in usage.units.items():
            attrs[n.USAGE_UNITS_PREFIX + unit] = count
        attrs[n.USAGE_PROVENANCE] = usage.provenance

        cost = event.cost
        attrs[n.COST_CURRENCY] = cost.currency
        attrs[n.PRICE_SOURCE] = cost.source
        if cost.version:
            attrs[n.PRICE_VERSION] = cost.version
        if cost.total is not None:
            attrs[n.COST_KNOWN] = True
            attrs[n.COST_TOTAL] = float(cost.total)
            attrs[n.COST_TOTAL_STR] = str(cost.total)
            if cost.input is not None:
                attrs[n.COST_INPUT] = float(cost.input)
            if cost.output is not None:
                attrs[n.COST_OUTPUT] = float(cost.output)
        else:
            attrs[n.COST_KNOWN] = False
            attrs[n.COST_UNKNOWN_REASON] = cost.source

        attrs[n.STREAM] = event.stream
        attrs[n.EVENT_ID] = event.id
        attrs[n.LATENCY_MS] = float(event.latency_ms)
        attrs[n.STATUS] = event.status
        if event.error_type:
            attrs[n.ERROR_TYPE] = event.error_type
        if event.substituted_from:
            attrs[n.MODEL_SUBSTITUTED_FROM] = event.substituted_from
        if event.decisions:
            _policy_attributes(event.decisions, attrs)
        return attrs

    def write(self, event: UsageEvent, parent_context: Any) -> None:
        """Emit the span of one event."""
        start_ns = epoch_ns(event.start_time)
        span = self.tracer.start_span(
            span_name(event),
            context=parent_context,
            kind=SpanKind.CLIENT,
            attributes=self.attributes(event),
            start_time=start_ns,
        )
        for decision in event.decisions:
            span.add_event(n.POLICY_DECISION_EVENT, _decision_attributes(decision), timestamp=start_ns)
        if event.status != "ok":
            what = event.error_type or event.status
            description = f"blocked by policy ({what})" if event.status == "blocked" else what
            span.set_status(Status(StatusCode.ERROR, description))
        span.end(end_time=max(epoch_ns(event.end_time), start_ns))


def _policy_attributes(decisions: tuple[PolicyDecision, ...], attrs: dict[str, Any]) -> None:
    attrs[n.POLICY_EVALUATED] = [d.policy for d in decisions]
    strictest = max(decisions, key=lambda d: _ACTION_RANK.get(d.action, 0))
    attrs[n.POLICY_RESULT] = strictest.action
    triggered = [d.policy for d in decisions if d.action != "allow"]
    if triggered:
        attrs[n.POLICY_TRIGGERED] = triggered


def _decision_attributes(d: PolicyDecision) -> dict[str, Any]:
    attrs = {n.POLICY_NAME: d.policy, n.POLICY_TYPE: d.policy_type, n.POLICY_ACTION: d.action}
    if d.reason:
        attrs[n.POLICY_REASON] = d.reason
    if d.detail:
        attrs[n.POLICY_DETAIL] = d.detail
    return attrs
