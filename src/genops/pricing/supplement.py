"""Reviewed prices for models genai-prices does not list (yet).

Each entry names its public source and the date it was checked. Config overrides win over
these; genai-prices wins over these when it lists the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Mapping

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

    def cost(self, usage: Usage) -> Cost:
        inp = (usage.input_tokens or 0) * self.input_per_million / MILLION
        out = (usage.output_tokens or 0) * self.output_per_million / MILLION
        units = {
            name: usage.units.get(name, 0) * price / THOUSAND for name, price in self.per_thousand_units.items()
        }
        total = inp + out + sum(units.values(), Decimal(0))
        return Cost(total=total, input=inp, output=out, components=units, source="genops-supplement", version=self.checked)


PRICES: tuple[SupplementPrice, ...] = ()


def find(provider: str, model: str) -> SupplementPrice | None:
    name = model.lower()
    for entry in PRICES:
        if entry.provider == provider and name in entry.models:
            return entry
    return None
