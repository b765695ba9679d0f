"""Policies: budgets, model rules, rate limits and model fallback, enforced before the call."""
