"""FinOps FOCUS 1.2 rows from the ledger (`genops export --format focus`).

One row per charge: by default per UTC day and provider/model/operation kind/team/project/
customer/environment/operation (`granularity="hour"` per UTC hour, `"event"` one row per event).
Columns, in order: the FOCUS 1.2 mandatory columns plus the conditional ones GenOps can fill
(ChargeFrequency, ConsumedQuantity/ConsumedUnit, PricingCategory, ServiceSubcategory, SkuId, Tags),
alphabetically, then GenOps' own `x_` columns. The spec's display names Provider, Publisher and
Invoice Issuer are the columns ProviderName, PublisherName and InvoiceIssuerName.

Values: dates are ISO 8601 UTC (`2026-03-01T00:00:00Z`); charge periods are the UTC hour or day
of the usage, clipped to the exported period; the billing period is the UTC calendar month.
Money is the exact ledger cost in USD: BilledCost = EffectiveCost = ListCost = ContractedCost,
because GenOps prices usage at the provider's list price (after any configured override; it
knows no commitment discounts). ConsumedQuantity/PricingQuantity are tokens (input + output,
unit "Tokens"), or requests (unit "Requests") for operations without tokens. SkuId is the model.
Tags is a JSON object with team, project, customer_id, environment, operation (and, per event,
user_id and the custom attributes). Requests whose price is unknown are exported in their own
rows with cost 0 and `x_PriceStatus` "unknown": they are never mixed into priced rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, localcontext
from typing import Any, Literal

from ..ledger import Ledger
from ..ledger.rows import DAY_US, HOUR_US, MONEY_CONTEXT, from_pico, from_us, residual, tidy
from .periods import Period

Granularity = Literal["day", "hour", "event"]
GRANULARITIES: tuple[str, ...] = ("day", "hour", "event")
FOCUS_VERSION = "1.2"

FOCUS_COLUMNS: tuple[str, ...] = (
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd",
    "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency", "ChargePeriodEnd",
    "ChargePeriodStart", "ConsumedQuantity", "ConsumedUnit", "ContractedCost", "EffectiveCost", "InvoiceIssuerName",
    "ListCost", "PricingCategory", "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName",
    "ServiceCategory", "ServiceName", "ServiceSubcategory", "SkuId", "Tags",
)  # fmt: skip
X_COLUMNS: tuple[str, ...] = (
    "x_Team", "x_Project", "x_CustomerId", "x_Environment", "x_Operation", "x_OperationKind", "x_Requests",
    "x_InputTokens", "x_OutputTokens", "x_CachedInputTokens", "x_UnpricedRequests", "x_PriceStatus", "x_EventId",
)  # fmt: skip
COLUMNS = FOCUS_COLUMNS + X_COLUMNS
MONEY_COLUMNS = ("BilledCost", "ContractedCost", "EffectiveCost", "ListCost")
QUANTITY_COLUMNS = ("ConsumedQuantity", "PricingQuantity")
DATE_COLUMNS = ("BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd", "ChargePeriodStart")
COUNT_COLUMNS = ("x_Requests", "x_InputTokens", "x_OutputTokens", "x_CachedInputTokens", "x_UnpricedRequests")

PROVIDER_NAMES = {
    "openai": "OpenAI", "anthropic": "Anthropic", "cohere": "Cohere", "google": "Google", "gemini": "Google",
    "mistral": "Mistral AI", "azure": "Microsoft", "bedrock": "Amazon Web Services", "groq": "Groq",
    "pinecone": "Pinecone", "weaviate": "Weaviate", "chroma": "Chroma",
}  # fmt: skip
_GENERATIVE = {"chat", "completion", "responses", "text_completion", "generate_content"}
_NLP = {"embeddings", "rerank"}

_SCAN = (
    "id", "start_us", "provider", "operation_kind", "model", "team", "project", "customer_id", "environment",
    "operation", "user_id", "attributes", "input_tokens", "output_tokens", "cached_input_tokens", "cost_pico",
    "cost_usd", "cost_inexact",
)  # fmt: skip
_KEY_FIELDS = ("provider", "operation_kind", "model", "team", "project", "customer_id", "environment", "operation")


@dataclass(frozen=True)
class Account:
    """Who the rows are billed to (FOCUS BillingAccountId/Name), from `reporting:`."""

    id: str = "genops"
    name: str = "GenOps"


@dataclass
class _Charge:
    key: tuple[Any, ...]  # bucket_us, *_KEY_FIELDS, priced
    requests: int = 0
    unpriced: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached: int = 0
    pico: int = 0
    extra: Decimal = Decimal(0)
    event_id: str | None = None
    tags: dict[str, Any] | None = None


def iso(value: datetime) -> str:
    """FOCUS Date/Time Format: `2026-03-01T00:00:00Z` (UTC, seconds)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def provider_name(provider: str) -> str:
    return PROVIDER_NAMES.get(provider.lower(), provider)


def subcategory(kind: str) -> str:
    if kind in _GENERATIVE:
        return "Generative AI"
    if kind in _NLP:
        return "Natural Language Processing"
    return "Other (AI and Machine Learning)"


def _month(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, 1, tzinfo=UTC)
    end = datetime(day.year + day.month // 12, day.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def _row(charge: _Charge, period: Period, bucket: int, account: Account) -> dict[str, Any]:
    bucket_us, provider, kind, model, team, project, customer, environment, operation, priced = charge.key
    charge_start = max(from_us(bucket_us), period.start)
    charge_end = min(from_us(bucket_us + bucket), period.end)
    billing_start, billing_end = _month(from_us(bucket_us).date())
    with localcontext(MONEY_CONTEXT):
        cost = tidy(from_pico(charge.pico) + charge.extra) if priced else Decimal(0)
    tokens = charge.input_tokens + charge.output_tokens
    quantity, unit = (tokens, "Tokens") if tokens else (charge.requests, "Requests")
    name = provider_name(provider)
    what = f"{model or 'unknown model'} {kind} ({name}), {charge.requests:,} requests"
    if tokens:
        what += f", {tokens:,} tokens"
    if not priced:
        what += "; price unknown, cost not included"
    tags = {
        k: v
        for k, v in (("team", team), ("project", project), ("customer_id", customer), ("environment", environment),
                     ("operation", operation))
        if v is not None
    }  # fmt: skip
    tags.update(charge.tags or {})
    return {
        "BilledCost": cost, "BillingAccountId": account.id, "BillingAccountName": account.name,
        "BillingCurrency": "USD", "BillingPeriodEnd": billing_end, "BillingPeriodStart": billing_start,
        "ChargeCategory": "Usage", "ChargeClass": None, "ChargeDescription": what, "ChargeFrequency": "Usage-Based",
        "ChargePeriodEnd": charge_end, "ChargePeriodStart": charge_start, "ConsumedQuantity": Decimal(quantity),
        "ConsumedUnit": unit, "ContractedCost": cost, "EffectiveCost": cost, "InvoiceIssuerName": name,
        "ListCost": cost, "PricingCategory": "Standard", "PricingQuantity": Decimal(quantity), "PricingUnit": unit,
        "ProviderName": name, "PublisherName": name, "ServiceCategory": "AI and Machine Learning",
        "ServiceName": f"{name} API", "ServiceSubcategory": subcategory(kind), "SkuId": model,
        "Tags": json.dumps(tags, sort_keys=True, separators=(",", ":")),
        "x_Team": team, "x_Project": project, "x_CustomerId": customer, "x_Environment": environment,
        "x_Operation": operation, "x_OperationKind": kind, "x_Requests": charge.requests,
        "x_InputTokens": charge.input_tokens, "x_OutputTokens": charge.output_tokens,
        "x_CachedInputTokens": charge.cached, "x_UnpricedRequests": charge.unpriced,
        "x_PriceStatus": "known" if priced else "unknown", "x_EventId": charge.event_id,
    }  # fmt: skip


def _add(charge: _Charge, r: dict[str, Any]) -> None:
    charge.requests += 1
    charge.input_tokens += r["input_tokens"] or 0
    charge.output_tokens += r["output_tokens"] or 0
    charge.cached += r["cached_input_tokens"] or 0
    if r["cost_pico"] is None:
        charge.unpriced += 1
    else:
        charge.pico += int(r["cost_pico"])
        if r["cost_inexact"]:
            charge.extra += residual(r["cost_usd"], int(r["cost_pico"]))


def focus_rows(
    ledger: Ledger,
    period: Period,
    granularity: Granularity = "day",
    account: Account = Account(),
    progress: Callable[[int], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """FOCUS rows (column -> value: Decimal money and quantities, datetime dates, str, int, None)
    for the events in `period`, in charge period order. `progress(n)` is called per 10,000 events read."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}")
    bucket = DAY_US if granularity == "day" else HOUR_US
    charges: dict[tuple[Any, ...], _Charge] = {}
    seen = 0
    for values in ledger.rows(_SCAN, period.start, period.end, page_size=10_000):
        r = dict(zip(_SCAN, values))
        start_us = r["start_us"]
        key = (start_us - start_us % bucket, *(r[f] for f in _KEY_FIELDS), r["cost_pico"] is not None)
        seen += 1
        if progress and seen % 10_000 == 0:
            progress(10_000)
        if granularity == "event":
            tags = {**json.loads(r["attributes"] or "{}"), **({"user_id": r["user_id"]} if r["user_id"] else {})}
            single = _Charge(key, event_id=r["id"], tags=tags)
            _add(single, r)
            yield _row(single, period, bucket, account)
            continue
        charge = charges.get(key)
        if charge is None:
            charge = charges[key] = _Charge(key)
        _add(charge, r)
    if progress and seen % 10_000:
        progress(seen % 10_000)
    for key in sorted(charges, key=lambda k: tuple((v is None, v) for v in k)):
        yield _row(charges[key], period, bucket, account)
