"""Integrations. Each module turns one library's calls into the governed pipeline.

A module exposes `instrument(settings) -> Instrumentation | None` (None when its library is not
installed or it is disabled in config). `Instrumentation.uninstrument()` removes the patches.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from ..config import ProviderName, Settings

logger = logging.getLogger("genops")

# Library-level integrations switched on by `GenOps.init` (in this order).
AUTO: tuple[ProviderName, ...] = (
    "openai", "anthropic", "cohere", "litellm", "llamaindex", "pinecone", "weaviate", "chroma",
)  # fmt: skip


def instrument_configured(settings: Settings) -> list[Any]:
    handles = []
    for name in AUTO:
        provider_cfg = settings.providers.get(name)
        if provider_cfg is not None and not provider_cfg.auto_instrument:
            continue
        module = importlib.import_module(f"genops.providers.{name}")
        handle = module.instrument(settings)
        if handle is not None:
            handles.append(handle)
    from ..propagation import instrument as instrument_propagation

    handles.append(instrument_propagation())
    return handles
