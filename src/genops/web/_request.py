"""What every middleware does with an incoming request, framework-free."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import context
from .._runtime import get_runtime


def request_attribution(headers: Mapping[str, str]) -> dict[str, Any]:
    """Attribution values for a request: W3C baggage from the caller, then the configured
    `attribution.customer_field` / `user_field` headers (which win over baggage)."""
    values: dict[str, Any] = dict(context.extract(headers))
    rt = get_runtime()
    if rt is not None:
        cfg = rt.settings.attribution
        lowered = {k.lower(): v for k, v in headers.items()}
        if cfg.customer_field and (customer := lowered.get(cfg.customer_field.lower())):
            values["customer_id"] = customer
        if cfg.user_field and (user := lowered.get(cfg.user_field.lower())):
            values["user_id"] = user
    return values
