"""The policy engine: every governed call is checked before the provider is called.

`check(call)` evaluates model rules, then rate limits, then budgets (cheapest to undo first).
A refusal raises `PolicyViolationError` after undoing what the attempt acquired; if a `custom`
`model_fallback_order` policy names the call's model as `primary`, each fallback the call's
provider can serve is tried in order with every policy re-checked, and the first that passes
replaces `call.model` (recorded as a `fallback` decision; the event's `substituted_from` says
which model was asked for). Cross-provider fallbacks are possible only for calls started with
`cross_provider=True` (LiteLLM; the integration then routes to the substituted model's
provider); SDK calls only fall back to models of their own provider (or models whose provider
GenOps cannot tell).

`settle(call, event)` runs after the call, before the event is queued for the ledger: budget
reservations become the actual cost (released for blocked calls and failed calls that were not
billed), rate-window entries get their actual token counts, and budget threshold crossings are
claimed in the store and handed to `runtime.alerts.budget_threshold(...)` by exactly one process.

Store outages: each policy follows its `on_store_error` (default `allow`: fail open, the call
proceeds with a warn decision; `block`: STORE_UNAVAILABLE). After a failure the store is not
retried for `STORE_RETRY_SECONDS` (no added latency per call while it is down); settlements that
failed are kept in memory and applied when the store is back (the ledger, written separately,
keeps every event regardless).

THROTTLE waits with `check_async` (via `pipeline.start_async`) without blocking the event loop;
a synchronous `check` called on an event loop's thread does not sleep (it refuses instead).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

from .. import _clock
from .._guard import guarded, internal_error, strict
from ..errors import PolicyViolationError
from ..events import PolicyDecision, UsageEvent
from .attempt import Attempt, BudgetHold, RateHold, Wait, refuse
from .budget import BudgetRule
from .crossing import BudgetCrossing
from .matching import model_matches
from .rules import ModelRule, RateLimitRule
from .schema import BudgetPolicy, CustomPolicy, ModelPolicy, RateLimitPolicy
from .store import CounterKey, CounterMissing, CounterStore, StoreError, to_nano
from .worst_case import provider_of

logger = logging.getLogger("genops.policy")

T = TypeVar("T")
STORE_RETRY_SECONDS = 1.0
MAX_PENDING_SETTLEMENTS = 100_000
CROSS_PROVIDER = frozenset({"litellm"})
BILLED_STATUSES = frozenset({"ok", "incomplete"})


class GuardedStore:
    """A store proxy that fails fast for a moment after an outage (no per-call connect timeouts)."""

    def __init__(self, store: CounterStore, retry_seconds: float = STORE_RETRY_SECONDS) -> None:
        self.inner = store
        self.retry_seconds = retry_seconds
        self._down_until = 0.0
        self._last_error = ""
        self._last_log = 0.0

    @property
    def down(self) -> bool:
        return time.monotonic() < self._down_until

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self.inner, name)
        if not callable(fn):
            return fn

        def guarded_call(*args: Any, **kwargs: Any) -> Any:
            if self.down:
                raise StoreError(self._last_error)
            try:
                return fn(*args, **kwargs)
            except StoreError as exc:
                self._failed(exc)
                raise

        setattr(self, name, guarded_call)  # later lookups skip __getattr__
        return guarded_call

    def _failed(self, exc: StoreError) -> None:
        now = time.monotonic()
        self._down_until = now + self.retry_seconds
        self._last_error = str(exc)
        if now - self._last_log > 60:
            self._last_log = now
            logger.warning("GenOps policy store unavailable (policies apply on_store_error): %s", exc)


class FallbackRule:
    def __init__(self, policy: CustomPolicy) -> None:
        self.policy = policy
        self.name = policy.name

    def covers(self, model: str | None) -> bool:
        return model is not None and model_matches(model, self.policy.config.primary)


class PolicyEngine:
    """Checks calls before the provider is reached and settles them after. Thread-safe."""

    def __init__(self, policies: Sequence[Any], store: CounterStore | None, pricer: Any,
                 ledger: Any = None, owner: Any = None) -> None:  # fmt: skip
        self.policies = list(policies)
        self.model_rules = [ModelRule(p) for p in policies if isinstance(p, ModelPolicy)]
        self.rate_rules = [RateLimitRule(p) for p in policies if isinstance(p, RateLimitPolicy)]
        self.budget_rules = [BudgetRule(p) for p in policies if isinstance(p, BudgetPolicy)]
        self.fallbacks = [FallbackRule(p) for p in policies if isinstance(p, CustomPolicy)]
        self.rules: list[Any] = [*self.model_rules, *self.rate_rules, *self.budget_rules]
        if (self.rate_rules or self.budget_rules) and store is None:
            raise ValueError("budgets and rate limits need a policy store")
        self.raw_store = store
        self.store: Any = GuardedStore(store) if store is not None else None
        self.pricer = pricer
        self.ledger = ledger
        self.owner = owner  # the runtime: `owner.alerts` receives threshold crossings
        self._pending: deque[Callable[[], None]] = deque()
        self._pending_lock = threading.Lock()

    # -- before the call --------------------------------------------------------------------------

    def check(self, call: Any) -> None:
        """Raise `PolicyViolationError` to refuse `call`; may substitute `call.model`."""
        may_wait = not _on_event_loop()
        waited = 0.0
        while True:
            try:
                self._guarded_decide(call, waited, may_wait)
                return
            except Wait as wait:
                _clock.sleep(wait.seconds)
                waited += wait.seconds
                _record_wait(call, wait)

    async def check_async(self, call: Any) -> None:
        """`check` for async callers: THROTTLE waits with `asyncio.sleep`."""
        waited = 0.0
        while True:
            try:
                self._guarded_decide(call, waited, True)
                return
            except Wait as wait:
                await _clock.asleep(wait.seconds)
                waited += wait.seconds
                _record_wait(call, wait)

    def _guarded_decide(self, call: Any, waited: float, may_wait: bool) -> None:
        try:
            self._drain_pending()
            self._decide(call, waited, may_wait)
        except (PolicyViolationError, Wait):
            raise
        except Exception as exc:
            internal_error(exc, "policy.check")
            if strict():
                raise

    def _decide(self, call: Any, waited: float, may_wait: bool) -> None:
        asked = call.model
        att, error = self._attempt(call, asked, waited, may_wait)
        if error is None:
            self._commit(call, att)
            return
        fallback = next((f for f in self.fallbacks if f.covers(asked)), None)
        if fallback is None:
            call.decisions.extend(att.decisions)
            raise error
        tried: list[str] = []
        for candidate in fallback.policy.config.fallback:
            if model_matches(candidate, asked) or candidate == asked:
                continue
            if not (getattr(call, "extra", {}).get("cross_provider") or self._can_serve(call.provider, candidate)):
                tried.append(f"{candidate} (not served by {call.provider})")
                continue
            fatt, ferror = self._attempt(call, candidate, waited, False)
            if ferror is not None:
                tried.append(f"{candidate} ({ferror.reason} by {ferror.policy})")
                continue
            detail = f"{asked} -> {candidate}: {error.policy} refused {asked} ({error.reason})"
            if fallback.policy.enforcement == "WARNING":
                self._undo(fatt.holds)
                tried.append(f"{candidate} would pass (fallback policy in WARNING mode)")
                break
            fatt.decide(fallback.name, "custom", "fallback", error.reason, detail)
            call.model = candidate
            self._commit(call, fatt)
            return
        call.decisions.extend(att.decisions)
        summary = "; ".join(tried) or "no fallback configured for this provider"
        call.decisions.append(PolicyDecision(fallback.name, "custom", "block", error.reason, f"fallbacks tried: {summary}"))
        error.args = (f"{error.args[0]} Fallbacks tried ({fallback.name}): {summary}.",)
        raise error

    def _attempt(self, call: Any, model: str | None, waited: float, may_wait: bool) -> tuple[Attempt, PolicyViolationError | None]:
        provider = call.provider
        if model is not None and model != call.model and getattr(call, "extra", {}).get("cross_provider"):
            provider = provider_of(model) or provider  # a fallback candidate of another provider (LiteLLM)
        att = Attempt(call, model, self._pricing_provider(provider, model), _clock.now(), waited, may_wait)
        try:
            for rule in self.rules:
                try:
                    rule.evaluate(att, self)
                except StoreError as exc:
                    self._store_failed(rule, att, exc)
        except PolicyViolationError as error:
            self._undo(att.holds)
            return att, error
        except BaseException:
            self._undo(att.holds)
            raise
        return att, None

    @staticmethod
    def _commit(call: Any, att: Attempt) -> None:
        call.decisions.extend(att.decisions)
        call.reservations.extend(att.holds)

    def _store_failed(self, rule: Any, att: Attempt, exc: StoreError) -> None:
        policy = rule.policy
        if policy.on_store_error == "block":
            message = (f"GenOps policy {policy.name!r} ({policy.type}) refused the call: its store is unavailable "
                       f"and the policy is configured with on_store_error: block ({exc}).")  # fmt: skip
            raise refuse(att, policy.name, policy.type, "STORE_UNAVAILABLE", message)
        att.decide(policy.name, policy.type, "warn", "STORE_UNAVAILABLE", f"store unavailable, call allowed: {exc}")

    def _undo(self, holds: list[Any]) -> None:
        for hold in holds:
            try:
                if isinstance(hold, BudgetHold) and hold.reservation_id:
                    self.store.release(hold.key, hold.reservation_id)
                elif isinstance(hold, RateHold):
                    self.store.rate_release(hold.key, hold.entry_id)
            except StoreError:
                pass  # a budget reservation then expires after its TTL
        holds.clear()

    def _pricing_provider(self, provider: str, model: str | None) -> str:
        if model is None or self.pricer.is_known(provider, model):
            return provider
        return provider_of(model) or provider

    @staticmethod
    def _can_serve(provider: str, model: str) -> bool:
        if provider in CROSS_PROVIDER:
            return True
        owner = provider_of(model)
        return owner is None or owner == provider or (provider == "azure" and owner == "openai")

    def counter(self, rule: BudgetRule, key: CounterKey, op: Callable[[], T]) -> T:
        """Run a counter operation, creating the counter from the ledger's period spend if missing."""
        try:
            return op()
        except CounterMissing:
            self.store.init_counter(key, to_nano(self.ledger_spend(rule, key)))
            return op()

    def ledger_spend(self, rule: BudgetRule, key: CounterKey) -> Decimal:
        """The ledger's spend for one budget counter's scope and period (the source of truth)."""
        if self.ledger is None or not hasattr(self.ledger, "spend"):
            return Decimal(0)
        group_by = ["model"] if rule.policy.models else []
        try:
            rows = self.ledger.spend(key.period_start, key.period_end, group_by, rule.ledger_filters(key.scope))
        except Exception as exc:
            if type(exc).__name__ == "LedgerUnavailableError":
                raise StoreError(f"cannot read the ledger to initialise {key.policy}: {exc}") from exc
            raise
        return sum((r.cost_usd for r in rows if rule.model_counts(r.group.get("model", "*"))), Decimal(0))

    # -- after the call ---------------------------------------------------------------------------

    def settle(self, call: Any, event: UsageEvent) -> None:
        """Replace reservations by the actual cost (or release them); fire threshold crossings."""
        holds, call.reservations = list(call.reservations), []
        if not holds:
            return
        with guarded("policy.settle"):
            self._drain_pending()
            cost = event.cost.total
            billed = event.status in BILLED_STATUSES or (event.status == "error" and bool(cost))
            tokens = None
            if billed and event.usage.input_tokens is not None:
                tokens = (event.usage.input_tokens or 0) + (event.usage.output_tokens or 0)
            for hold in holds:
                if isinstance(hold, BudgetHold):
                    op = self._budget_settlement(hold, billed, cost)
                elif tokens is not None and tokens != hold.weight and hold.rule.policy.tokens_per_minute:
                    op = partial(self.store.rate_adjust, hold.key, hold.entry_id, tokens)
                elif not billed and event.status == "blocked":
                    op = partial(self.store.rate_release, hold.key, hold.entry_id)
                else:
                    continue
                try:
                    op()
                except StoreError:
                    self._defer(op)

    def _budget_settlement(self, hold: BudgetHold, billed: bool, cost: Decimal | None) -> Callable[[], None]:
        store, rule, key = self.store, hold.rule, hold.key
        if not billed:
            if hold.reservation_id:
                return lambda: store.release(key, hold.reservation_id)
            return lambda: None
        # Unknown actual cost: a BLOCKED budget keeps its reservation as spent (never under-count);
        # a call that could not be priced beforehand (`amount` 0) adds nothing.
        amount = None if cost is None and hold.amount else to_nano(cost or Decimal(0))

        def run() -> None:
            now = _clock.now()
            result = self.counter(rule, key, lambda: store.settle(key, hold.reservation_id, amount, rule.limit_nano, now))
            for threshold in rule.crossings(key, result.spent_before, result.spent_after, result.limit):
                if store.claim_crossing(key, threshold, now):
                    self._fire(rule.crossing(key, threshold, result.spent_after, result.limit))

        return run

    def _fire(self, crossing: BudgetCrossing) -> None:
        logger.info("GenOps budget %s reached %s%% (%s) for %s", crossing.policy, crossing.percent,
                    f"${crossing.spent} of ${crossing.limit}", crossing.scope)  # fmt: skip
        alerts = getattr(self.owner, "alerts", None)
        if alerts is not None:
            with guarded("alerts.budget_threshold"):
                alerts.budget_threshold(crossing)

    def _defer(self, op: Callable[[], None]) -> None:
        with self._pending_lock:
            if len(self._pending) >= MAX_PENDING_SETTLEMENTS:
                logger.error("GenOps: too many settlements waiting for the policy store; dropping the oldest "
                             "(the ledger still has every event)")  # fmt: skip
                self._pending.popleft()
            self._pending.append(op)

    def _drain_pending(self) -> None:
        if not self._pending or (self.store is not None and self.store.down):
            return
        with self._pending_lock:
            ops, self._pending = list(self._pending), deque()
        for i, op in enumerate(ops):
            try:
                op()
            except StoreError:
                with self._pending_lock:
                    self._pending.extendleft(reversed(ops[i:]))
                return

    @property
    def pending_settlements(self) -> int:
        return len(self._pending)

    def close(self) -> None:
        if self.raw_store is not None:
            self.raw_store.close()


def _record_wait(call: Any, wait: Wait) -> None:
    call.decisions.append(PolicyDecision(wait.policy, "rate_limit", "throttle", "RATE_LIMITED", f"waited {wait.seconds:.3f}s"))


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
