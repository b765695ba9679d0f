"""The worst-case cost of a call before it runs (what a BLOCKED budget reserves).

- Input tokens: the integration's estimate (about four characters per token, good to ~15%)
  plus a safety margin of 25% and 16 tokens, so a reservation covers the actual input.
- Output tokens: the request's `max_tokens` (or `max_output_tokens`, `max_completion_tokens`);
  else the budget's `max_output_tokens`; else the model's maximum output from `MAX_OUTPUT`
  (providers' published limits for the model families whose requests may omit max_tokens);
  else a conservative default per provider (`PROVIDER_DEFAULT_OUTPUT`). Embeddings and other
  operations without generated output reserve no output tokens.

A call whose actual usage exceeds its reservation (e.g. a model whose real maximum is above the
assumed one) is still settled at its actual cost, so the budget may then overshoot by the
difference: set `max_tokens` on requests (or `max_output_tokens` on the budget) to make the
guarantee exact.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from .matching import model_matches

INPUT_MARGIN_NUM, INPUT_MARGIN_DEN, INPUT_MARGIN_TOKENS = 5, 4, 16

# Maximum output tokens by model family (first match wins; globs as in policies).
MAX_OUTPUT: tuple[tuple[str, int], ...] = (
    ("gpt-5*", 128_000),
    ("o1-mini*", 65_536),
    ("o1*", 100_000),
    ("o3*", 100_000),
    ("o4*", 100_000),
    ("gpt-4.1*", 32_768),
    ("gpt-4o*", 16_384),
    ("chatgpt-4o*", 16_384),
    ("gpt-4-turbo*", 4_096),
    ("gpt-4-*-preview", 4_096),
    ("gpt-4-32k*", 8_192),
    ("gpt-4", 8_192),
    ("gpt-3.5*", 4_096),
    ("claude-3-7-sonnet*", 64_000),
    ("claude-3-5*", 8_192),
    ("claude-3-*", 4_096),
    ("claude-opus-4*", 32_000),
    ("claude-sonnet-4*", 64_000),
    ("claude-haiku-4*", 64_000),
    ("command-a*", 8_192),
    ("command-r*", 4_096),
    ("cohere-command-r*", 4_096),
)

PROVIDER_DEFAULT_OUTPUT = {"openai": 16_384, "azure": 16_384, "anthropic": 8_192, "cohere": 4_096}
DEFAULT_OUTPUT = 16_384
NO_OUTPUT_KINDS = ("embedding", "embeddings", "rerank", "moderation", "moderations")


def reserve_input_tokens(estimated: int) -> int:
    """Estimated input tokens plus the safety margin."""
    return -(-max(estimated, 0) * INPUT_MARGIN_NUM // INPUT_MARGIN_DEN) + INPUT_MARGIN_TOKENS


@lru_cache(maxsize=1024)
def model_max_output(provider: str, model: str) -> int:
    for pattern, tokens in MAX_OUTPUT:
        if model_matches(model, pattern):
            return tokens
    return PROVIDER_DEFAULT_OUTPUT.get(provider, DEFAULT_OUTPUT)


def output_tokens(call: Any, model: str, provider: str, budget_default: int | None) -> int:
    kind = str(call.operation_kind or "")
    if kind in NO_OUTPUT_KINDS or kind.startswith("vector"):
        return 0
    if call.max_output_tokens is not None:
        return int(call.max_output_tokens)
    if budget_default is not None:
        return budget_default
    return model_max_output(provider, model)


def worst_case_cost(pricer: Any, call: Any, model: str, provider: str, input_tokens: int,
                    budget_default: int | None, when: datetime) -> Decimal | None:  # fmt: skip
    """The most this call can cost, or None when the model's price is unknown."""
    out = output_tokens(call, model, provider, budget_default)
    return pricer.worst_case(provider, model, reserve_input_tokens(input_tokens), out, when)


@lru_cache(maxsize=1024)
def provider_of(model: str) -> str | None:
    """The provider that serves `model`: a `provider/` prefix, else genai-prices' catalogue."""
    if "/" in model:
        return model.split("/", 1)[0].lower()
    try:
        from genai_prices import data_snapshot

        provider, _ = data_snapshot.get_snapshot().find_provider_model(model, None, None, None)
        return str(provider.id)
    except (LookupError, ImportError):
        return None
