"""The linear-rate fast path gives exactly genai-prices' own figures."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from genai_prices import data_snapshot

from genops.events import Usage
from genops.pricing import Pricer
from genops.pricing.engine import _price_usage

WHEN = datetime(2026, 3, 10, tzinfo=UTC)


def test_fast_path_matches_genai_prices_for_every_model_of_the_major_providers():
    rng = random.Random(7)
    pricer = Pricer()
    snapshot = data_snapshot.get_snapshot()
    checked = 0
    for provider in snapshot.providers:
        if provider.id not in ("openai", "anthropic", "cohere", "google", "mistral", "deepseek"):
            continue
        for model in provider.models:
            for _ in range(5):
                inp = rng.randrange(0, 2_000_000)
                cached = rng.randrange(0, inp + 1) if rng.random() < 0.5 else 0
                written = rng.randrange(0, inp - cached + 1) if rng.random() < 0.3 else 0
                usage = Usage(input_tokens=inp, output_tokens=rng.randrange(0, 100_000),
                              cached_input_tokens=cached, cache_write_tokens=written)
                expected = model.calc_price(_price_usage(usage), provider, genai_request_timestamp=WHEN)
                got = pricer._genai_price(model, provider, usage, WHEN)
                assert got == (expected.input_price, expected.output_price), (provider.id, model.id, usage)
                assert sum(got) == expected.total_price
                checked += 1
    assert checked > 500
