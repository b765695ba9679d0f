"""Integrations. Each module turns one library's calls into the governed pipeline.

A module exposes `instrument(settings) -> Instrumentation | None` (None when its library is not
installed or it is disabled in config). `Instrumentation.uninstrument()` removes the patches.
"""

from __future__ import annotations

import importlib
import logging
import os
from typing import Any

from ..config import ProviderName, Settings

logger = logging.getLogger("genops")

# Library-level integrations switched on by `GenOps.init` (in this order).
AUTO: tuple[ProviderName, ...] = (
    "openai", "anthropic", "cohere", "litellm", "llamaindex", "pinecone", "weaviate", "chroma",
)  # fmt: skip


# The environment variables each SDK reads its key and endpoint from.
CREDENTIAL_ENV: dict[ProviderName, tuple[str, str | None]] = {
    "openai": ("OPENAI_API_KEY", "OPENAI_BASE_URL"),
    "anthropic": ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"),
    "cohere": ("CO_API_KEY", "CO_API_URL"),
    "pinecone": ("PINECONE_API_KEY", None),
    "weaviate": ("WEAVIATE_API_KEY", None),
}


def apply_credentials(settings: Settings) -> list[str]:
    """Hand `providers.<name>.api_key` / `base_url` from genops.yaml to the SDKs, through the
    environment variables they read, for clients created after `GenOps.init`. A variable that is
    already set is never overridden. Returns the names of the variables set (never their values)."""
    applied = []
    for name, (key_var, url_var) in CREDENTIAL_ENV.items():
        cfg = settings.providers.get(name)
        if cfg is None:
            continue
        for var, value in ((key_var, cfg.api_key), (url_var, cfg.base_url)):
            if var and value and not os.environ.get(var):
                os.environ[var] = value
                applied.append(var)
    return applied


def instrument_configured(settings: Settings) -> list[Any]:
    apply_credentials(settings)
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
