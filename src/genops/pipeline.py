"""The one governed pipeline every integration feeds.

    attribute -> guard -> call -> meter -> settle -> emit

An integration wraps a provider call like this::

    call = pipeline.start("openai", "chat", model, max_output_tokens=..., estimate_input=...)
    try:
        response = original(...)
    except BaseException as exc:
        call.fail(exc)
        raise
    call.finish(usage, response_model=...)

`start` resolves attribution and runs the policy guard (which may raise
`PolicyViolationError` before the provider is reached, or substitute the model). `finish`/`fail`
price the usage, settle reservations and hand the event to the background processor, which
writes the ledger and emits spans and metrics off the calling thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context

from . import _clock
from ._guard import guarded
from .context import current
from .errors import PolicyViolationError
from .events import Attribution, Cost, PolicyDecision, Usage, UsageEvent, new_event_id

if TYPE_CHECKING:
    from ._runtime import Runtime

# Set while a provider call is in flight: nested layers (a framework over an SDK) and the
# baggage injector read it.
_active: ContextVar[Call | None] = ContextVar("genops_active_call", default=None)
_closing = threading.Lock()  # makes "record once" atomic per call


class Call:
    """One governed provider call in flight."""

    __slots__ = (
        "_estimate_input", "_start_ns", "_token", "attribution", "decisions", "done", "extra", "framework", "id",
        "max_output_tokens", "model", "nested", "operation_kind", "parent_context", "provider", "requested_model",
        "reservations", "runtime", "start_time", "stream",
    )  # fmt: skip

    def __init__(
        self,
        runtime: Runtime,
        provider: str,
        operation_kind: str,
        model: str | None,
        *,
        stream: bool = False,
        max_output_tokens: int | None = None,
        estimate_input: Callable[[], int] | None = None,
        attribution: Attribution | None = None,
        framework: bool = False,
        cross_provider: bool = False,
    ) -> None:
        self.runtime = runtime
        self.framework = framework  # a framework layer (LangChain, LiteLLM, ...) owning nested SDK calls
        self.nested: tuple[str, Usage, str | None] | None = None
        self.id = new_event_id()
        self.provider = provider
        self.operation_kind = operation_kind
        self.model = model
        self.requested_model = model
        self.stream = stream
        self.max_output_tokens = max_output_tokens
        self._estimate_input = estimate_input
        self.attribution = (attribution or current()).under(runtime.defaults)
        self.start_time = _clock.now()
        self._start_ns = _clock.monotonic_ns()
        self.decisions: list[PolicyDecision] = []
        self.reservations: list[Any] = []
        self.parent_context = otel_context.get_current()
        self.done = False
        # cross_provider: the layer can send the call to any provider's model (LiteLLM), so a
        # policy fallback may change the provider (the integration then sets `provider`).
        self.extra: dict[str, Any] = {"cross_provider": True} if cross_provider else {}
        self._token: Token[Call | None] | None = _active.set(self)

    # -- guard -----------------------------------------------------------------------------

    def release(self) -> None:
        """The provider request is done (a stream may still be read): leave the in-flight context."""
        token, self._token = self._token, None
        if token is not None:
            try:
                _active.reset(token)
            except ValueError:  # released from another context (a stream finished elsewhere)
                _active.set(None)

    def estimated_input_tokens(self) -> int:
        if self._estimate_input is None:
            return 0
        return self._estimate_input()

    # -- meter / settle / emit ---------------------------------------------------------------

    def finish(self, usage: Usage, response_model: str | None = None) -> UsageEvent | None:
        """Record a completed call."""
        return self._close(usage, response_model, "ok", None)

    def fail(self, exc: BaseException, usage: Usage | None = None) -> UsageEvent | None:
        """Record a failed call (the exception is the caller's to re-raise)."""
        return self._close(usage or Usage.unavailable(), None, "error", type(exc).__name__)

    def finish_incomplete(self, usage: Usage, response_model: str | None = None) -> UsageEvent | None:
        """Record a stream the caller stopped reading before its end (usage is usually estimated)."""
        return self._close(usage, response_model, "incomplete", None)

    def block(self, exc: BaseException) -> UsageEvent | None:
        """Record a call a policy refused: it never reached the provider and cost nothing."""
        return self._close(Usage(input_tokens=0, output_tokens=0, provenance="unavailable"), None, "blocked", type(exc).__name__)

    def _close(self, usage: Usage, response_model: str | None, status: Any, error_type: str | None) -> UsageEvent | None:
        with _closing:  # a stream may be ended by two threads at once (close() racing __del__)
            if self.done:
                return None
            self.done = True
        self.release()
        event = None
        with guarded("pipeline.close"):
            rt = self.runtime
            end_ns = _clock.monotonic_ns()
            if self.nested is not None and status != "blocked":
                # An instrumented SDK under this framework call saw the provider's own figures.
                self.provider, nested_usage, nested_model = self.nested
                if usage.provenance != "reported" or nested_usage.provenance == "reported":
                    usage = nested_usage
                response_model = nested_model or response_model
            model = response_model or self.model
            if status == "blocked":
                cost = Cost(total=Decimal(0), source="blocked")
            elif status == "error" and usage.provenance == "unavailable":
                cost = Cost(total=None, source="failed-call")
            else:
                cost = rt.pricer.price(self.provider, model, usage, self.start_time)
                # Dated response names may be unknown while the requested name is priced.
                if (cost.total is None and not rt.pricer.is_known(self.provider, model or "")
                        and self.model and self.model != model):  # fmt: skip
                    cost = rt.pricer.price(self.provider, self.model, usage, self.start_time)
            event = UsageEvent(
                id=self.id,
                start_time=self.start_time,
                end_time=_clock.now(),
                provider=self.provider,
                operation_kind=self.operation_kind,
                request_model=self.model,
                response_model=response_model,
                usage=usage,
                cost=cost,
                attribution=self.attribution,
                latency_ms=(end_ns - self._start_ns) / 1e6,
                status=status,
                error_type=error_type,
                stream=self.stream,
                decisions=tuple(self.decisions),
                substituted_from=self.requested_model if self.requested_model != self.model else None,
            )
            if rt.policies is not None:
                rt.policies.settle(self, event)
            rt.processor.submit(event, self.parent_context)
        return event


class NestedCall:
    """An SDK-level call made inside a framework-level governed call (LangChain over OpenAI,
    LiteLLM over OpenAI, ...). The framework call owns the guard and the one event; the nested
    call only hands it the provider's exact usage."""

    __slots__ = ("done", "model", "outer", "provider", "requested_model")

    def __init__(self, outer: Call, provider: str, model: str | None) -> None:
        self.outer = outer
        self.provider = provider
        self.requested_model = model
        # A model the framework call's policies substituted applies to the SDK request too.
        substituted = outer.model != outer.requested_model and model == outer.requested_model
        self.model = outer.model if substituted else model
        self.done = False

    def release(self) -> None:
        pass

    def finish(self, usage: Usage, response_model: str | None = None) -> None:
        self.done = True
        self.outer.nested = (self.provider, usage, response_model)

    def finish_incomplete(self, usage: Usage, response_model: str | None = None) -> None:
        self.finish(usage, response_model)

    def fail(self, exc: BaseException, usage: Usage | None = None) -> None:
        self.done = True
        if usage is not None and usage.provenance != "unavailable":
            self.outer.nested = (self.provider, usage, None)


def _new_call(provider: str, operation_kind: str, model: str | None, kwargs: dict[str, Any]) -> Any:
    outer = _active.get()
    if outer is not None and outer.framework and not outer.done:
        return NestedCall(outer, provider, model)
    from ._runtime import get_runtime

    rt = get_runtime()
    return None if rt is None else Call(rt, provider, operation_kind, model, **kwargs)


def _refused(call: Call, exc: BaseException) -> None:
    if isinstance(exc, PolicyViolationError):
        call.block(exc)
    else:
        call.done = True
        call.release()


def start(provider: str, operation_kind: str, model: str | None, **kwargs: Any) -> Any:
    """Begin a governed call: a `Call`, a `NestedCall` inside a framework call, or None when
    GenOps is not initialised. Pass `framework=True` from framework layers (LangChain,
    LlamaIndex, LiteLLM): SDK calls made inside then feed this call instead of recording their own.

    Raises `PolicyViolationError` when a policy blocks the call.
    """
    call = _new_call(provider, operation_kind, model, kwargs)
    if type(call) is Call and call.runtime.policies is not None:
        try:
            call.runtime.policies.check(call)
        except BaseException as exc:
            _refused(call, exc)
            raise
    return call


async def start_async(provider: str, operation_kind: str, model: str | None, **kwargs: Any) -> Any:
    """`start` for async integrations: a throttling policy waits without blocking the loop."""
    call = _new_call(provider, operation_kind, model, kwargs)
    if type(call) is Call and call.runtime.policies is not None:
        policies = call.runtime.policies
        try:
            if hasattr(policies, "check_async"):
                await policies.check_async(call)
            else:
                policies.check(call)
        except BaseException as exc:
            _refused(call, exc)
            raise
    return call


@contextmanager
def outside_calls() -> Iterator[None]:
    """Start a call here as if no governed call were in flight, so it does not nest (sibling
    framework runs started back to back in one context, e.g. a LangChain batch `generate`)."""
    token = _active.set(None)
    try:
        yield
    finally:
        _active.reset(token)


def active_call() -> Call | None:
    """The governed call in flight in this context, if any (a finished call whose end ran in
    another context, e.g. a LangChain callback shielded in a copied context, is not)."""
    call = _active.get()
    return None if call is None or call.done else call
