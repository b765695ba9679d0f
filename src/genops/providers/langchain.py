"""LangChain: `GenOpsCallbackHandler`, passed as `callbacks=[...]` to a model, a chain or a call.

    handler = GenOpsCallbackHandler(team="support", project="chatbot", customer_id="acme")
    chain.invoke(question, config={"callbacks": [handler]})

Each LLM run (keyed by LangChain's `run_id`) is one framework-level governed call: it starts in
`on_chat_model_start` / `on_llm_start` (attribution: the handler's values over the current
`GenOps.track` scope; policies run here and a block stops the run before the provider is
called) and ends in `on_llm_end` / `on_llm_error`. An instrumented SDK call made by the model
(OpenAI, Anthropic, Cohere) nests into it and supplies the provider's exact usage, so the
provider call is counted once. For that the handler runs inline in the caller's context
(`run_inline`), in sync, async and streaming runs alike.

Chain, retriever and tool runs also enter the handler's attribution scope until they end, so SDK
calls LangChain makes without callbacks (embeddings inside a retriever) carry it too. (Not for a
retriever or tool that is itself the root of an async run: see `_enter`.)
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from .. import context, pipeline
from .._guard import guarded
from ..events import ATTRIBUTION_FIELDS, Usage
from . import _estimate
from ._patch import missing_library

try:
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.outputs import LLMResult
except ImportError as exc:  # pragma: no cover - exercised only without langchain-core
    raise missing_library("langchain", "langchain-core") from exc

__all__ = ["GenOpsCallbackHandler", "usage_from_result"]

_RUN = "langchain.run_id"
_PARENT = "langchain.parent_run_id"
_LEADS_BATCH = "langchain.leads_batch"

# Ends that mean "the caller stopped reading" rather than "the provider failed".
_ABANDONED = (GeneratorExit, KeyboardInterrupt)


class _LLMRun:
    __slots__ = ("call", "input_estimate")

    def __init__(self, call: Any, input_estimate: int) -> None:
        self.call = call
        self.input_estimate = input_estimate


class GenOpsCallbackHandler(BaseCallbackHandler):
    """Governs every LLM run it sees and attributes it to the given team/project/customer.

    Keyword arguments: `team`, `project`, `customer_id`, `user_id`, `environment`, `operation`,
    `service`; any other keyword becomes a custom attribute (`competitor="acme"`). Values given
    here override the enclosing `GenOps.track` scope; unset ones are inherited from it.
    """

    # A policy block raised in `on_*_start` must stop the run (LangChain otherwise logs it).
    raise_error = True
    # Called in the caller's own context (not a copy in an executor), so the governed call
    # started here is visible to the SDK call the model makes.
    run_inline = True

    def __init__(
        self,
        team: str | None = None,
        project: str | None = None,
        customer_id: str | None = None,
        user_id: str | None = None,
        environment: str | None = None,
        operation: str | None = None,
        service: str | None = None,
        **custom: Any,
    ) -> None:
        super().__init__()
        values = dict(custom, team=team, project=project, customer_id=customer_id, user_id=user_id,
                      environment=environment, operation=operation, service=service)
        self.attribution_values: dict[str, Any] = {k: v for k, v in values.items() if v is not None}
        self._llm_runs: dict[UUID, _LLMRun] = {}
        self._scopes: dict[UUID, Any] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        known = {k: v for k, v in self.attribution_values.items() if k in ATTRIBUTION_FIELDS}
        return f"GenOpsCallbackHandler({', '.join(f'{k}={v!r}' for k, v in known.items())})"

    # -- LLM runs ------------------------------------------------------------------------------

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[Any]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        invocation_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        estimate = _estimate.messages_tokens(messages[0] if messages else None)
        self._start_llm(serialized, "chat", estimate, run_id, parent_run_id, metadata, invocation_params or kwargs.get("invocation_params"))

    def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        invocation_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        estimate = _estimate.text_tokens(prompts[0] if prompts else None)
        self._start_llm(serialized, "text_completion", estimate, run_id, parent_run_id, metadata, invocation_params)

    def on_llm_new_token(self, token: str | list[str | dict[str, Any]], *, run_id: UUID, **kwargs: Any) -> None:
        run = self._llm_runs.get(run_id)
        if run is not None and type(run.call) is pipeline.Call:
            run.call.stream = True

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        run = self._pop_llm(run_id)
        if run is None:
            return
        with guarded("langchain.on_llm_end"):
            call = run.call
            usage = usage_from_result(response)
            if usage is None:
                usage = _estimated(run, response)
            if type(call) is pipeline.Call and call.extra.get(_LEADS_BATCH):
                # The SDK calls of a whole batch nested into this run: its own result is exact.
                call.nested = None
            call.finish(usage, _response_model(response))

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        run = self._pop_llm(run_id)
        if run is None:
            return
        with guarded("langchain.on_llm_error"):
            response = kwargs.get("response")
            partial = _estimated(run, response) if _has_output(response) else None
            if isinstance(error, _ABANDONED):
                run.call.finish_incomplete(partial or _estimated(run, None), _response_model(response))
            else:
                run.call.fail(_provider_error(error), partial)

    def _start_llm(
        self,
        serialized: dict[str, Any] | None,
        kind: str,
        input_estimate: int,
        run_id: UUID,
        parent_run_id: UUID | None,
        metadata: dict[str, Any] | None,
        params: dict[str, Any] | None,
    ) -> None:
        if run_id in self._llm_runs:  # the same run reported twice to this handler
            return
        prepared: dict[str, Any] | None = None
        leader: pipeline.Call | None = None
        with guarded("langchain.on_llm_start"):
            provider, model = _provider_and_model(serialized, metadata or {}, params or {})
            prepared = {
                "framework": True,
                "attribution": context.current().merged(**self.attribution_values),
                "stream": bool((params or {}).get("stream")),
                "max_output_tokens": _max_output_tokens(params or {}),
                "estimate_input": lambda: input_estimate,
            }
            leader = _batch_leader(parent_run_id, run_id)
        if prepared is None:
            return
        # A policy block raises PolicyViolationError here; `raise_error` lets it stop the run.
        if leader is not None:
            # A sibling in a batch `generate`: its own event, but the leader stays the in-flight
            # call that the batch's SDK calls nest into (each run is finished from its result).
            leader.extra[_LEADS_BATCH] = True
            with pipeline.outside_calls():
                call = pipeline.start(provider, kind, model, **prepared)
                if call is not None:
                    call.release()
        else:
            call = pipeline.start(provider, kind, model, **prepared)
        if call is None:
            return
        if type(call) is pipeline.Call:
            call.extra[_RUN] = run_id
            call.extra[_PARENT] = parent_run_id
        with self._lock:
            self._llm_runs[run_id] = _LLMRun(call, input_estimate)

    def _pop_llm(self, run_id: UUID) -> _LLMRun | None:
        with self._lock:
            return self._llm_runs.pop(run_id, None)

    # -- attribution scope for root chain / retriever / tool runs -----------------------------

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        self._enter(run_id, parent_run_id)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._exit(run_id)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._exit(run_id)

    def on_retriever_start(self, serialized: Any, query: str, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        self._enter(run_id, parent_run_id)

    def on_retriever_end(self, documents: Sequence[Any], *, run_id: UUID, **kwargs: Any) -> None:
        self._exit(run_id)

    def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._exit(run_id)

    def on_tool_start(self, serialized: Any, input_str: str, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        self._enter(run_id, parent_run_id)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._exit(run_id)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._exit(run_id)

    def _enter(self, run_id: UUID, parent_run_id: UUID | None) -> None:
        with guarded("langchain.scope"):
            if parent_run_id is None and not _dispatched_synchronously():
                # An async root run ends in a copied context (LangChain shields end callbacks),
                # where the scope could not be left again: it would outlive the run in the
                # caller's context. Its child runs each run in their own context copy, so
                # scoping them instead is safe.
                return
            token = context.set_attribution(context.current().merged(**self.attribution_values))
            with self._lock:
                self._scopes[run_id] = token

    def _exit(self, run_id: UUID) -> None:
        with self._lock:
            token = self._scopes.pop(run_id, None)
        if token is not None:
            try:
                context.reset_attribution(token)
            except ValueError:
                pass  # ended in a copy of the context it started in (async): that copy is discarded


# -- helpers -----------------------------------------------------------------------------------


def _dispatched_synchronously() -> bool:
    """True when LangChain's sync callback manager called this handler: the run's end callback
    then runs in the same context as its start."""
    frame = sys._getframe(1)
    for _ in range(8):
        frame = frame.f_back  # type: ignore[assignment]
        if frame is None:
            return False
        if frame.f_globals.get("__name__") == "langchain_core.callbacks.manager":
            return frame.f_code.co_name == "handle_event"
    return False


def _provider_error(error: BaseException) -> BaseException:
    """The SDK's own exception under a LangChain wrapper that subclasses it
    (langchain-openai's `OpenAIAPIError(openai.InternalServerError)` raised `from` it)."""
    cause = error.__cause__
    while cause is not None and isinstance(error, type(cause)):
        error, cause = cause, cause.__cause__
    return error


def _batch_leader(parent_run_id: UUID | None, run_id: UUID) -> pipeline.Call | None:
    """The in-flight LangChain call this run is a batch sibling of (same parent, other run)."""
    active = pipeline.active_call()
    if active is None or active.done or _RUN not in active.extra:
        return None
    if active.extra[_RUN] != run_id and active.extra.get(_PARENT) == parent_run_id:
        return active
    return None


def _provider_and_model(serialized: dict[str, Any] | None, metadata: dict[str, Any], params: dict[str, Any]) -> tuple[str, str | None]:
    provider = metadata.get("ls_provider")
    if not provider:
        ident = (serialized or {}).get("id") or []
        name = str(ident[-1]) if ident else str(params.get("_type") or "langchain")
        provider = name.removeprefix("Chat").lower() or "langchain"
    model = metadata.get("ls_model_name") or params.get("model") or params.get("model_name")
    return str(provider), (str(model) if model else None)


def _max_output_tokens(params: dict[str, Any]) -> int | None:
    for key in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
        value = params.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _generations(response: LLMResult | None) -> list[Any]:
    if response is None:
        return []
    return [g for gens in response.generations or () for g in gens or ()]


def _has_output(response: LLMResult | None) -> bool:
    return any(getattr(g, "text", "") for g in _generations(response))


def _response_model(response: LLMResult | None) -> str | None:
    output = (response.llm_output or {}) if response is not None else {}
    if output.get("model_name") or output.get("model"):
        return str(output.get("model_name") or output.get("model"))
    for generation in _generations(response):
        meta = getattr(getattr(generation, "message", None), "response_metadata", None) or {}
        if meta.get("model_name") or meta.get("model"):
            return str(meta.get("model_name") or meta.get("model"))
    return None


def usage_from_result(response: LLMResult | None) -> Usage | None:
    """The provider-reported usage in a LangChain `LLMResult`, or None when it has none.

    Reads the message's `usage_metadata` (every current chat model, streaming included), else
    `llm_output["token_usage"]` (OpenAI format) or `llm_output["usage"]` (Anthropic format).
    """
    for generation in _generations(response):
        meta = getattr(getattr(generation, "message", None), "usage_metadata", None)
        if meta:
            inp = meta.get("input_token_details") or {}
            out = meta.get("output_token_details") or {}
            return Usage(
                input_tokens=meta.get("input_tokens"),
                output_tokens=meta.get("output_tokens"),
                cached_input_tokens=inp.get("cache_read") or 0,
                cache_write_tokens=inp.get("cache_creation") or 0,
                reasoning_tokens=out.get("reasoning") or 0,
            )
    output = (response.llm_output or {}) if response is not None else {}
    token_usage = output.get("token_usage")
    if token_usage and token_usage.get("prompt_tokens") is not None:
        details = token_usage.get("prompt_tokens_details") or {}
        out_details = token_usage.get("completion_tokens_details") or {}
        return Usage(
            input_tokens=token_usage.get("prompt_tokens"),
            output_tokens=token_usage.get("completion_tokens"),
            cached_input_tokens=details.get("cached_tokens") or 0,
            reasoning_tokens=out_details.get("reasoning_tokens") or 0,
        )
    usage = output.get("usage")
    if isinstance(usage, dict) and usage.get("input_tokens") is not None:
        read = usage.get("cache_read_input_tokens") or 0
        write = usage.get("cache_creation_input_tokens") or 0
        return Usage(
            input_tokens=usage["input_tokens"] + read + write,
            output_tokens=usage.get("output_tokens"),
            cached_input_tokens=read,
            cache_write_tokens=write,
        )
    return None


def _estimated(run: _LLMRun, response: LLMResult | None) -> Usage:
    text = "".join(getattr(g, "text", "") or "" for g in _generations(response))
    return Usage(input_tokens=run.input_estimate, output_tokens=_estimate.text_tokens(text), provenance="estimated")
