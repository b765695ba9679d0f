"""Turn a `Usage` into an exact `Cost`.

Lookup order for a (provider, model): a config override, then genai-prices, then GenOps'
reviewed supplement (`supplement.py`). Model lookups are cached per (provider, model); the
price itself is chosen for the event's start time, so historic prices apply.

Vector databases (`vector.VECTOR_PROVIDERS`) are priced on their units instead (`vector.py`):
read/write units, requests and storage; the "model" of their events is the index name.
"""

from __future__ import annotations

import fnmatch
import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import genai_prices
from genai_prices import data_snapshot
from genai_prices.types import Usage as PriceUsage

from ..events import UNKNOWN_COST, Cost, Usage
from . import supplement
from .rates import is_linear
from .rates import measure as rates_of
from .vector import VECTOR_PROVIDERS, VectorPricer

logger = logging.getLogger("genops.pricing")

MILLION = Decimal(1_000_000)
GENAI_PRICES_VERSION = genai_prices.__version__


@dataclass(frozen=True)
class PriceOverride:
    """A configured price: own per-million prices, or a discount on the list price."""

    model: str  # glob, e.g. "gpt-4*" or an exact custom model name
    provider: str | None = None
    input_per_million: Decimal | None = None
    output_per_million: Decimal | None = None
    cached_input_per_million: Decimal | None = None
    cache_write_per_million: Decimal | None = None
    discount_percent: Decimal | None = None

    def matches(self, provider: str, model: str) -> bool:
        if self.provider and self.provider != provider:
            return False
        return fnmatch.fnmatchcase(model.lower(), self.model.lower())

    @property
    def has_own_prices(self) -> bool:
        return self.input_per_million is not None or self.output_per_million is not None


def _price_usage(usage: Usage) -> PriceUsage:
    values: dict[str, Any] = {
        "input_tokens": usage.input_tokens or 0,
        "output_tokens": usage.output_tokens or 0,
    }
    if usage.cached_input_tokens:
        values["cache_read_tokens"] = usage.cached_input_tokens
    if usage.cache_write_tokens:
        values["cache_write_tokens"] = usage.cache_write_tokens
    if searches := usage.units.get("search_units"):
        values["rerank_searches"] = searches
    return PriceUsage(**values)


class Pricer:
    """Prices usage. Thread-safe; lookups are cached."""

    def __init__(self, overrides: list[PriceOverride] | None = None, vector_db: Any = None) -> None:
        self.overrides = list(overrides or [])
        self.vector = VectorPricer(vector_db)
        self._cache: dict[tuple[str, str], Any] = {}
        self._rates: dict[tuple[Any, ...], Any] = {}
        self._warned: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, pricing: Any) -> Pricer:
        """The pricer for a `PricingConfig` (`settings.pricing`)."""
        vector_db = {name: cfg.model_dump(exclude_none=True) for name, cfg in pricing.vector_db.items()}
        return cls([PriceOverride(**o.model_dump()) for o in pricing.overrides], vector_db=vector_db)

    def price(self, provider: str, model: str | None, usage: Usage, when: datetime) -> Cost:
        if provider in VECTOR_PROVIDERS:
            return self.vector.price(provider, usage)
        if model is None or usage.provenance == "unavailable":
            return Cost(total=None, source="no-usage" if model else "unknown-model")
        override = self._override(provider, model)
        if override is not None and override.has_own_prices:
            return self._own_price(override, usage)
        found = self._lookup(provider, model)
        if found is None:
            return UNKNOWN_COST
        kind, a, b = found
        if kind == "genai-prices":
            inp, out = self._genai_price(a, b, usage, when)
            cost = Cost(total=inp + out, input=inp, output=out, source="genai-prices", version=GENAI_PRICES_VERSION)
        else:
            cost = a.cost(usage)
        if override is not None and override.discount_percent is not None:
            cost = _discounted(cost, override.discount_percent)
        return cost

    def _genai_price(self, info: Any, provider: Any, usage: Usage, when: datetime) -> tuple[Decimal, Decimal]:
        """(input, output) price from genai-prices; linear prices use their measured rates."""
        if provider.id != "groq" and not usage.units:
            model_price = info.get_prices(when)
            if is_linear(model_price):
                key = tuple(vars(model_price).items())
                rates = self._rates.get(key)
                if rates is None:
                    rates = self._rates[key] = rates_of(model_price)
                return rates.cost(usage)
        calc = info.calc_price(_price_usage(usage), provider, genai_request_timestamp=when)
        return calc.input_price, calc.output_price

    def is_known(self, provider: str, model: str) -> bool:
        if provider in VECTOR_PROVIDERS:
            return self.vector.is_known(provider)
        override = self._override(provider, model)
        return (override is not None and override.has_own_prices) or self._lookup(provider, model) is not None

    def worst_case(self, provider: str, model: str, input_tokens: int, output_tokens: int, when: datetime) -> Decimal | None:
        """The cost of a call at the given token counts (used for budget reservations)."""
        cost = self.price(provider, model, Usage(input_tokens=input_tokens, output_tokens=output_tokens), when)
        return cost.total

    def _override(self, provider: str, model: str) -> PriceOverride | None:
        for override in self.overrides:
            if override.matches(provider, model):
                return override
        return None

    def _lookup(self, provider: str, model: str) -> Any:
        key = (provider, model)
        try:
            return self._cache[key]
        except KeyError:
            pass
        found: Any = None
        try:
            prov, info = data_snapshot.get_snapshot().find_provider_model(model, None, provider, None)
            found = ("genai-prices", info, prov)
        except LookupError:
            entry = supplement.find(provider, model)
            if entry is not None:
                found = ("supplement", entry, None)
        with self._lock:
            self._cache[key] = found
            if found is None and key not in self._warned:
                self._warned.add(key)
                logger.warning(
                    "GenOps has no price for %s model %r: its calls are recorded with cost unknown. "
                    "Add a pricing override in genops.yaml to price it.",
                    provider,
                    model,
                )
        return found

    @staticmethod
    def _own_price(o: PriceOverride, usage: Usage) -> Cost:
        zero = Decimal(0)
        inp = usage.input_tokens or 0
        cached = usage.cached_input_tokens
        written = usage.cache_write_tokens
        in_rate = o.input_per_million or zero
        parts = {
            "input": (inp - cached - written) * in_rate / MILLION,
            "cached_input": cached * (o.cached_input_per_million if o.cached_input_per_million is not None else in_rate) / MILLION,
            "cache_write": written * (o.cache_write_per_million if o.cache_write_per_million is not None else in_rate) / MILLION,
            "output": (usage.output_tokens or 0) * (o.output_per_million or zero) / MILLION,
        }
        input_total = parts["input"] + parts["cached_input"] + parts["cache_write"]
        total = input_total + parts["output"]
        if o.discount_percent is not None:
            return _discounted(Cost(total=total, input=input_total, output=parts["output"], source="override"), o.discount_percent)
        return Cost(total=total, input=input_total, output=parts["output"], components=parts, source="override")


def _discounted(cost: Cost, percent: Decimal) -> Cost:
    if cost.total is None:
        return cost
    factor = (Decimal(100) - percent) / Decimal(100)
    return Cost(
        total=cost.total * factor,
        input=None if cost.input is None else cost.input * factor,
        output=None if cost.output is None else cost.output * factor,
        components={"list_price": cost.total, **cost.components},
        source=f"{cost.source}+discount",
        version=cost.version,
    )
