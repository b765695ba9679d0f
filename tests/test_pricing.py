"""The cost engine: genai-prices, config overrides (own prices, discounts, custom models)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import openai

from genops.events import Usage
from genops.pricing import PriceOverride, Pricer

WHEN = datetime(2026, 3, 10, tzinfo=UTC)


def test_list_price_from_genai_prices():
    cost = Pricer().price("openai", "gpt-4-turbo", Usage(input_tokens=1000, output_tokens=500), WHEN)
    assert (cost.total, cost.input, cost.output, cost.source) == (Decimal("0.025"), Decimal("0.01"), Decimal("0.015"), "genai-prices")


def test_discount_percent_applies_to_the_list_price():
    pricer = Pricer([PriceOverride(model="gpt-4*", discount_percent=Decimal(20))])
    cost = pricer.price("openai", "gpt-4-turbo", Usage(input_tokens=1000, output_tokens=500), WHEN)
    assert cost.total == Decimal("0.0200")
    assert cost.components["list_price"] == Decimal("0.025")
    assert cost.source == "genai-prices+discount"


def test_custom_model_with_own_prices():
    pricer = Pricer([PriceOverride(model="acme-finetune-7b", input_per_million=Decimal(3),
                                   output_per_million=Decimal(6), cached_input_per_million=Decimal("0.3"))])
    cost = pricer.price("openai", "acme-finetune-7b",
                        Usage(input_tokens=2000, output_tokens=1000, cached_input_tokens=1000), WHEN)
    # 1000 uncached x $3/M + 1000 cached x $0.30/M + 1000 x $6/M
    assert cost.total == Decimal("0.0093")
    assert cost.source == "override"


def test_override_is_scoped_by_provider():
    pricer = Pricer([PriceOverride(model="gpt-4-turbo", provider="azure", input_per_million=Decimal(1),
                                   output_per_million=Decimal(1))])
    usage = Usage(input_tokens=1000, output_tokens=500)
    assert pricer.price("azure", "gpt-4-turbo", usage, WHEN).total == Decimal("0.0015")
    assert pricer.price("openai", "gpt-4-turbo", usage, WHEN).total == Decimal("0.025")


def test_unknown_model_is_unknown_not_zero():
    cost = Pricer().price("openai", "no-such-model-xyz", Usage(input_tokens=10, output_tokens=10), WHEN)
    assert cost.total is None and not cost.known


def test_overrides_from_config_reach_ledger(genops_runtime, server):
    rt = genops_runtime(pricing={"overrides": [
        {"model": "acme-finetune-7b", "input_per_million": "3", "output_per_million": "6"},
        {"model": "gpt-4-turbo", "discount_percent": 15},
    ]})
    server.set_usage(input_tokens=1000, output_tokens=500)
    client = openai.OpenAI(base_url=server.openai_base_url, api_key="sk", max_retries=0)
    for model in ("acme-finetune-7b", "gpt-4-turbo"):
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}])
    rt.flush()
    costs = {e.request_model: e.cost.total for e in rt.ledger.events()}
    assert costs == {"acme-finetune-7b": Decimal("0.006"), "gpt-4-turbo": Decimal("0.02125")}
