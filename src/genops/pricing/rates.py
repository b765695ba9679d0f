"""Per-token rates derived from genai-prices, so the hot path does not re-run its calculation.

For a price that is linear in tokens (no tiers, no per-request fee), the cost of any usage is
`sum(count x rate)`. The rates are *measured* by asking genai-prices for the cost of one million
tokens of each kind (uncached input, cache read, cache write, output), once per price object, so
the figures are genai-prices' own. Anything else (tiers, request fees, non-token units) goes
through `ModelPrice.calc_price` unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from genai_prices.types import Usage as PriceUsage

from ..events import Usage

MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class LinearRates:
    """USD per million tokens, split the way genai-prices splits input and output price."""

    input: tuple[Decimal, Decimal]  # (to input price, to output price)
    cache_read: tuple[Decimal, Decimal]
    cache_write: tuple[Decimal, Decimal]
    output: tuple[Decimal, Decimal]

    def cost(self, usage: Usage) -> tuple[Decimal, Decimal]:
        """(input price, output price) of `usage`."""
        cached, written = usage.cached_input_tokens, usage.cache_write_tokens
        uncached = (usage.input_tokens or 0) - cached - written
        out = usage.output_tokens or 0
        parts = ((uncached, self.input), (cached, self.cache_read), (written, self.cache_write), (out, self.output))
        inp = sum((n * r[0] for n, r in parts if n), Decimal(0)) / MILLION
        outp = sum((n * r[1] for n, r in parts if n), Decimal(0)) / MILLION
        return inp, outp


def is_linear(model_price: Any) -> bool:
    for name, value in vars(model_price).items():
        if value is None or name.startswith("_"):
            continue
        if not isinstance(value, Decimal) or name == "requests_kcount":
            return False
    return True


def measure(model_price: Any) -> LinearRates:
    """The rates of a linear price (check `is_linear` first)."""

    def rate(**tokens: int) -> tuple[Decimal, Decimal]:
        calc = model_price.calc_price(PriceUsage(**tokens))
        return calc["input_price"], calc["output_price"]

    m = int(MILLION)
    return LinearRates(
        input=rate(input_tokens=m),
        cache_read=rate(input_tokens=m, cache_read_tokens=m),
        cache_write=rate(input_tokens=m, cache_write_tokens=m),
        output=rate(output_tokens=m),
    )
