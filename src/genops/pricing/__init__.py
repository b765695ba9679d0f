"""Cost engine: genai-prices, a small reviewed supplement, and per-model overrides from config."""

from .engine import PriceOverride, Pricer

__all__ = ["PriceOverride", "Pricer"]
