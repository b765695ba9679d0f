"""Reviewed prices for models genai-prices does not list (yet).

Each entry names its public source and the date it was checked. Config overrides win over
these; genai-prices wins over these when it lists the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from ..events import Cost, Usage

MILLION = Decimal(1_000_000)
THOUSAND = Decimal(1_000)


@dataclass(frozen=True)
class SupplementPrice:
    provider: str
    models: tuple[str, ...]
    input_per_million: Decimal = Decimal(0)
    output_per_million: Decimal = Decimal(0)
    per_thousand_units: Mapping[str, Decimal] = field(default_factory=dict)
    source: str = ""
    checked: str = ""
    note: str = ""  # how far the price could be verified

    def cost(self, usage: Usage) -> Cost:
        inp = (usage.input_tokens or 0) * self.input_per_million / MILLION
        out = (usage.output_tokens or 0) * self.output_per_million / MILLION
        units = {
            name: usage.units.get(name, 0) * price / THOUSAND for name, price in self.per_thousand_units.items()
        }
        total = inp + out + sum(units.values(), Decimal(0))
        return Cost(total=total, input=inp, output=out, components=units, source="genops-supplement", version=self.checked)


COHERE_PRICING = "https://cohere.com/pricing"
_UNREACHED = (
    "Cohere's pricing page could not be read from the build environment; the figure is Cohere's "
    "pay-as-you-go list price as quoted (citing that page) by independent price tables. "
)

PRICES: tuple[SupplementPrice, ...] = (
    # Embed 3 (text): $0.10 per 1M input tokens. Output is free (embeddings bill input only).
    SupplementPrice(
        provider="cohere",
        models=("embed-english-v3.0", "embed-multilingual-v3.0"),
        input_per_million=Decimal("0.10"),
        source=COHERE_PRICING,
        checked="2026-12-04",
        note=_UNREACHED + "Newer pages list Embed 3 for existing customers only.",
    ),
    # Embed 3 light: the same $0.10 per 1M in the table most sources copy; two blog posts give
    # $0.02 and $0.01. NOT VERIFIED against Cohere's own page: override in genops.yaml if your
    # invoice differs.
    SupplementPrice(
        provider="cohere",
        models=("embed-english-light-v3.0", "embed-multilingual-light-v3.0"),
        input_per_million=Decimal("0.10"),
        source=COHERE_PRICING,
        checked="2026-12-04",
        note=_UNREACHED + "Unverified: sources disagree ($0.10 / $0.02 / $0.01 per 1M tokens).",
    ),
    # Rerank 3 and 3.5: $2.00 per 1,000 searches; one search unit = one query with up to 100
    # documents (Cohere bills `meta.billed_units.search_units`).
    SupplementPrice(
        provider="cohere",
        models=("rerank-english-v3.0", "rerank-multilingual-v3.0", "rerank-v3.5"),
        per_thousand_units={"search_units": Decimal("2.00")},
        source=COHERE_PRICING,
        checked="2026-12-04",
        note=_UNREACHED + "The search-unit definition is quoted from the page's FAQ.",
    ),
)


def find(provider: str, model: str) -> SupplementPrice | None:
    name = model.lower()
    for entry in PRICES:
        if entry.provider == provider and name in entry.models:
            return entry
    return None
