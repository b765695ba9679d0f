"""Datadog metric query syntax: tag filters, metric queries, and reading metric names back.

The SDK's `genops.*` metrics reach Datadog (through the OTel collector's Datadog exporter or
the Agent's OTLP intake) under their OTel names with bare tags (`team`, `customer_id`, ...),
so a query is `sum:genops.cost.total{team:support} by {customer_id}`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..errors import ConfigError

Filters = Sequence[tuple[str, Sequence[str]]]

_TAG_VALUE = re.compile(r"^[^\s,{}()]+$")


def tag_value(value: str) -> str:
    """A tag value as written in a filter (Datadog tag values are lower-case without spaces)."""
    if not _TAG_VALUE.match(value):
        raise ConfigError(
            f"{value!r} cannot be used as a Datadog tag value (it has spaces, commas, braces or parentheses)",
            field="policies",
        )
    return value


def tag_filter(filters: Filters) -> str:
    """`{...}` contents: `*`, `team:support,project:chatbot`, or the boolean form when an
    attribute has several values: `team IN (knowledge,sales) AND environment:production`."""
    if not filters:
        return "*"
    if all(len(values) == 1 for _, values in filters):
        return ",".join(f"{key}:{tag_value(values[0])}" for key, values in filters)
    parts = []
    for key, values in filters:
        if len(values) == 1:
            parts.append(f"{key}:{tag_value(values[0])}")
        else:
            parts.append(f"{key} IN ({','.join(tag_value(v) for v in values)})")
    return " AND ".join(parts)


def metric_query(
    aggregation: str,
    metric: str,
    filters: Filters = (),
    by: Sequence[str] = (),
    *,
    rollup: tuple[str, int] | None = None,
    as_count: bool = False,
) -> str:
    """`sum:genops.cost.total{team:support} by {customer_id}.rollup(sum, 86400)`."""
    query = f"{aggregation}:{metric}{{{tag_filter(filters)}}}"
    if by:
        query += f" by {{{', '.join(by)}}}"
    if as_count:
        query += ".as_count()"
    if rollup:
        query += f".rollup({rollup[0]}, {rollup[1]})"
    return query


# `avg:genops.latency{`, `p95:genops.latency{`, `sum:genops.cost.total{` ...
_METRIC_IN_QUERY = re.compile(r"(?:^|[\s(,/*+:-])(?:sum|avg|min|max|count|p\d{2}|p99\.9|pct\d+):([A-Za-z][\w.]*)\{")
_TAGS_IN_QUERY = re.compile(r"\{([^}]*)\}")
_TAG_KEY = re.compile(r"!?([A-Za-z_][\w.\-]*)(?::|\s+(?:NOT\s+)?IN\s*\()")


def metrics_in_query(query: str) -> set[str]:
    """Every metric name a Datadog metric, monitor or formula query reads."""
    return set(_METRIC_IN_QUERY.findall(query))


def tag_keys_in_query(query: str) -> set[str]:
    """Every tag key a query filters or groups on (`{team:support} by {customer_id}` -> team, customer_id)."""
    keys: set[str] = set()
    for body in _TAGS_IN_QUERY.findall(query):
        body = body.strip()
        if body == "*":
            continue
        before = query[: query.find("{" + body + "}")]
        if before.rstrip().endswith("by"):
            keys.update(k.strip() for k in body.split(",") if k.strip())
        else:
            keys.update(_TAG_KEY.findall(body))
    return keys
