"""What a LiteLLM call is, and what it used: the provider LiteLLM resolves for a model, the
usage in LiteLLM's responses and streams, and the provider figures LiteLLM drops.

LiteLLM normalises every provider's usage to the OpenAI shape: `prompt_tokens` counts every
input token, cache reads and cache writes included (the OTel GenAI convention GenOps uses),
`prompt_tokens_details.cached_tokens` the cache reads and `cache_creation_input_tokens` the
cache writes. One exception is corrected here: for Cohere v2 chat LiteLLM reports the raw
`tokens` (which include Cohere's prompt template) where Cohere bills `billed_units`; the
billed figures are read from the provider's own response and take precedence.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from .. import pipeline
from .._guard import guarded
from ..events import Usage
from . import _estimate

# LiteLLM provider names that differ from the provider ids GenOps prices under (genai-prices).
PROVIDER_NAMES = {
    "text-completion-openai": "openai",
    "chatgpt": "openai",
    "azure_text": "azure",
    "azure_ai": "azure",
    "anthropic_text": "anthropic",
    "cohere_chat": "cohere",
    "gemini": "google",
    "vertex_ai": "google",
    "vertex_ai_beta": "google",
    "bedrock": "aws",
    "bedrock_mantle": "aws",
    "sagemaker": "aws",
    "sagemaker_chat": "aws",
    "codestral": "mistral",
    "text-completion-codestral": "mistral",
    "xai": "x-ai",
    "together_ai": "together",
    "fireworks_ai": "fireworks",
    "meta_llama": "meta",
    "moonshot": "moonshotai",
    "voyage": "voyageai",
}


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


@lru_cache(maxsize=512)
def provider_for(model: str, custom_llm_provider: str | None = None, api_base: str | None = None) -> tuple[str, str]:
    """(GenOps provider id, model name sent to the provider) for a LiteLLM model string.

    LiteLLM's own resolution (`litellm.get_llm_provider`) decides: `gpt-4-turbo` -> openai,
    `claude-opus-4` -> anthropic, `anthropic/claude-opus-4` -> anthropic with the prefix
    stripped. A name LiteLLM cannot route (e.g. `command-r-plus`, dropped from LiteLLM's model
    list when Cohere retired it) is looked up in the price data, so the attempt is still
    recorded under its provider; failing that the provider is `litellm`.
    """
    import litellm

    try:
        resolved, provider, _key, _base = litellm.get_llm_provider(
            model=model, custom_llm_provider=custom_llm_provider, api_base=api_base
        )
    except Exception:  # noqa: BLE001 - LiteLLM raises its BadRequestError for unroutable names
        return _provider_from_price_data(model)
    return PROVIDER_NAMES.get(provider, provider), resolved


def _provider_from_price_data(model: str) -> tuple[str, str]:
    from genai_prices import data_snapshot

    try:
        found, _info = data_snapshot.get_snapshot().find_provider_model(model, None, None, None)
        return found.id, model
    except LookupError:
        return "litellm", model


def response_usage(kind: str, response: Any) -> tuple[Usage, str | None]:
    """(usage, response model) of a LiteLLM `ModelResponse` / `EmbeddingResponse`."""
    hidden = _get(response, "_hidden_params") or {}
    if isinstance(hidden, dict) and hidden.get("cache_hit"):
        # Served from LiteLLM's own cache: no provider was called.
        return Usage(input_tokens=0, output_tokens=0), _get(response, "model")
    return usage_from(kind, _get(response, "usage")), _get(response, "model")


def usage_from(kind: str, usage: Any) -> Usage:
    """Map LiteLLM's (OpenAI-shaped) usage to a `Usage`."""
    if usage is None:
        return Usage.unavailable()
    prompt_details = _get(usage, "prompt_tokens_details")
    completion_details = _get(usage, "completion_tokens_details")
    cached = _get(prompt_details, "cached_tokens") or _get(usage, "cache_read_input_tokens") or 0
    written = _get(usage, "cache_creation_input_tokens") or _get(prompt_details, "cache_creation_tokens") or 0
    return Usage(
        input_tokens=_get(usage, "prompt_tokens"),
        output_tokens=0 if kind == "embeddings" else _get(usage, "completion_tokens"),
        cached_input_tokens=cached,
        cache_write_tokens=written,
        reasoning_tokens=_get(completion_details, "reasoning_tokens") or 0,
    )


def estimate_input(kind: str, kwargs: dict[str, Any]) -> int:
    if kind == "chat":
        return _estimate.messages_tokens(kwargs.get("messages"))
    return _estimate.text_tokens(_estimate.content_text(kwargs.get("input")))


class StreamMeter:
    """Sees each `ModelResponseStream` chunk of a LiteLLM stream. Usage comes from the final
    chunk when the request asked for it (`stream_options={"include_usage": True}`); otherwise it
    is estimated from the request and the streamed text and flagged `estimated`."""

    __slots__ = ("chars", "kwargs", "model", "usage")

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self.kwargs = kwargs
        self.usage: Any = None
        self.model: str | None = None
        self.chars = 0

    def on_item(self, chunk: Any) -> None:
        self.model = _get(chunk, "model") or self.model
        usage = _get(chunk, "usage")
        if usage is not None:
            self.usage = usage
        for choice in _get(chunk, "choices") or ():
            content = _get(_get(choice, "delta"), "content")
            if content:
                self.chars += len(content)

    def result(self) -> tuple[Usage, str | None]:
        if self.usage is not None:
            return usage_from("chat", self.usage), self.model
        out = -(-self.chars // _estimate.CHARS_PER_TOKEN)
        inp = _estimate.messages_tokens(self.kwargs.get("messages"))
        return Usage(input_tokens=inp, output_tokens=out, provenance="estimated"), self.model


# -- Cohere v2: price billed units, not LiteLLM's raw token counts -------------------------------


def _billed(usage: Any) -> Usage | None:
    billed = _get(usage, "billed_units")
    if not billed:
        return None
    return Usage(input_tokens=int(billed.get("input_tokens") or 0), output_tokens=int(billed.get("output_tokens") or 0))


def _cohere_transform_response(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    result = wrapped(*args, **kwargs)
    with guarded("litellm.cohere_billed_units"):
        outer = pipeline.active_call()
        if outer is not None and outer.framework and not outer.done:
            raw = kwargs["raw_response"] if "raw_response" in kwargs else args[1]
            usage = _billed(raw.json().get("usage"))
            if usage is not None:
                pipeline.NestedCall(outer, "cohere", _get(result, "model")).finish(usage, _get(result, "model"))
    return result


def patch_cohere(inst: Any) -> None:
    """Read Cohere v2's billed units where LiteLLM parses a chat response. (LiteLLM 1.110
    cannot parse Cohere v2 streams, whose SSE has `event:` lines, so streams are not covered.)"""
    try:
        from litellm.llms.cohere.chat.v2_transformation import CohereV2ChatConfig
    except ImportError:  # another LiteLLM layout: LiteLLM's own figures are used
        return
    inst.wrap(CohereV2ChatConfig, "transform_response", _cohere_transform_response)
