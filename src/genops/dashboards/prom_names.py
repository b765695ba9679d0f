"""The names under which a Prometheus server sees the SDK's metrics, and PromQL helpers.

The `prometheus` exporter (`exporters: [{type: prometheus, port: 9464}]`) serves the OTel
metrics translated by OpenTelemetry's Prometheus rules: dots become underscores, the unit is
appended unless it is an annotation like `{token}` (`ms` -> `milliseconds`, `USD` stays), and
counters end in `_total`. So `genops.cost.total` (USD) is `genops_cost_USD_total` and
`genops.latency` (ms, a histogram) is `genops_latency_milliseconds_bucket/_sum/_count`.
Attribute names stay (`team`, `customer_id`, ...). tests/test_prometheus.py checks these
names against what the real exporter serves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from ..telemetry import names as n

# OTel instrument -> (unit, kind) as created in genops/telemetry/metrics.py.
INSTRUMENTS: dict[str, tuple[str, str]] = {
    n.METRIC_COST_TOTAL: ("USD", "counter"),
    n.METRIC_TOKENS_INPUT: ("{token}", "counter"),
    n.METRIC_TOKENS_OUTPUT: ("{token}", "counter"),
    n.METRIC_REQUESTS: ("{request}", "counter"),
    n.METRIC_LATENCY: ("ms", "histogram"),
    n.METRIC_COST_PER_REQUEST: ("USD", "histogram"),
    n.GEN_AI_CLIENT_TOKEN_USAGE: ("{token}", "histogram"),
    n.GEN_AI_CLIENT_OPERATION_DURATION: ("s", "histogram"),
}
_UNITS = {"ms": "milliseconds", "s": "seconds", "By": "bytes", "1": "ratio"}


def prometheus_name(otel_name: str, unit: str, kind: str) -> str:
    """The metric family name the OTel Prometheus exporter serves for an instrument."""
    name = re.sub(r"[^a-zA-Z0-9_:]", "_", otel_name)
    unit = re.sub(r"\{[^}]*\}", "", unit)
    unit = _UNITS.get(unit, re.sub(r"[^a-zA-Z0-9_:]", "_", unit))
    if kind == "counter" and name.endswith("_total"):
        name = name[: -len("_total")]
    if unit and not name.endswith("_" + unit):
        name += "_" + unit
    if kind == "counter":
        name += "_total"
    return name


def family(otel_name: str) -> str:
    unit, kind = INSTRUMENTS[otel_name]
    return prometheus_name(otel_name, unit, kind)


COST = family(n.METRIC_COST_TOTAL)  # genops_cost_USD_total
TOKENS_INPUT = family(n.METRIC_TOKENS_INPUT)  # genops_tokens_input_total
TOKENS_OUTPUT = family(n.METRIC_TOKENS_OUTPUT)  # genops_tokens_output_total
REQUESTS = family(n.METRIC_REQUESTS)  # genops_requests_total
LATENCY = family(n.METRIC_LATENCY)  # genops_latency_milliseconds (+ _bucket, _sum, _count)
COST_PER_REQUEST = family(n.METRIC_COST_PER_REQUEST)  # genops_cost_per_request_USD (+ ...)


def series_names() -> set[str]:
    """Every sample name the exporter serves for the SDK's metrics (histograms with their suffixes)."""
    names: set[str] = set()
    for otel_name, (unit, kind) in INSTRUMENTS.items():
        base = prometheus_name(otel_name, unit, kind)
        names |= {base} if kind == "counter" else {f"{base}_bucket", f"{base}_sum", f"{base}_count"}
    return names


# -- PromQL helpers ---------------------------------------------------------------------------

def quote(value: str) -> str:
    """A PromQL string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def glob_regex(pattern: str) -> str:
    """A model glob (`gpt-4*`) as an RE2 regex (PromQL anchors it)."""
    out = []
    for ch in pattern:
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
    return "".join(out)


def matchers(filters: Sequence[tuple[str, Sequence[str]]], extra: Iterable[str] = ()) -> str:
    """`{team="support",model=~"gpt-4.*"}` for a budget scope (values of one attribute are alternatives)."""
    parts = list(extra)
    for key, values in filters:
        globs = key == "model" and any(c in v for v in values for c in "*?")
        if len(values) == 1 and not globs:
            parts.append(f"{key}={quote(values[0])}")
        else:
            to_regex = glob_regex if key == "model" else re.escape
            parts.append(f"{key}=~{quote('|'.join(to_regex(v) for v in values))}")
    return "{" + ",".join(parts) + "}" if parts else ""


_IDENT = re.compile(r"\b((?:genops|gen_ai)_[A-Za-z0-9_:]*)")


def metrics_in_promql(expr: str) -> set[str]:
    """Every `genops_*` / `gen_ai_*` metric name an expression reads (labels never start so)."""
    without_strings = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)
    return set(_IDENT.findall(without_strings))
