"""Policies: budgets, model rules, rate limits and model fallback, enforced before the call.

`build_engine(settings, runtime)` returns the `PolicyEngine` the pipeline calls
(`check` / `check_async` before the provider, `settle` after), or None when no policies are
configured (the hot path then skips policy work entirely).
"""

from __future__ import annotations

from typing import Any

from .crossing import BudgetCrossing
from .engine import PolicyEngine
from .schema import POLICY_MODELS, AnyPolicy, BudgetPolicy, CustomPolicy, ModelPolicy, RateLimitPolicy


def typed_policies(settings: Any) -> list[Any]:
    """The configured policies as typed models (validating raw items when needed)."""
    parsed = getattr(settings, "parsed_policies", None)
    items = parsed() if callable(parsed) else list(getattr(settings, "policies", []))
    out = []
    for item in items:
        if isinstance(item, tuple(POLICY_MODELS.values())):
            out.append(item)
        else:
            raw = item.model_dump(exclude_unset=True) if hasattr(item, "model_dump") else dict(item)
            out.append(POLICY_MODELS[raw["type"]].model_validate(raw))
    return out


def build_engine(settings: Any, runtime: Any = None) -> PolicyEngine | None:
    """The policy engine for `settings`, or None when no policies are configured."""
    policies = typed_policies(settings)
    if not policies:
        return None
    store = None
    if any(isinstance(p, (BudgetPolicy, RateLimitPolicy)) for p in policies):
        from .store import open_store, store_url

        store = open_store(store_url(settings.storage))
    pricer = getattr(runtime, "pricer", None)
    if pricer is None:
        from ..pricing import Pricer

        pricer = Pricer.from_config(settings.pricing)
    return PolicyEngine(policies, store, pricer, ledger=getattr(runtime, "ledger", None), owner=runtime)


__all__ = [
    "AnyPolicy", "BudgetCrossing", "BudgetPolicy", "CustomPolicy", "ModelPolicy", "PolicyEngine",
    "RateLimitPolicy", "build_engine", "typed_policies",
]  # fmt: skip
