"""Model rules and rate limits.

Model rule: `blocked` / `allowed` glob lists (see `matching`), for calls in its scope
(`environment:` / `team:` shorthand or the `environments` / `teams` ... filters). WARNING lets
a denied model through with a warn decision; BLOCKED raises MODEL_DENIED.

Rate limit: requests and/or tokens per minute in a sliding 60-second window (at most N in any
60 seconds), one window per team, project or customer (`per`), shared through the store. Before
the call a request counts its estimated input tokens plus its `max_tokens` (when set); after it,
its actual tokens. BLOCKED raises RATE_LIMITED with `retry_after`; THROTTLE waits until the
window admits the call, up to `max_wait_seconds`, then raises; WARNING records a warn decision
and lets the call through (it still counts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .attempt import Attempt, RateHold, Wait, refuse
from .matching import FILTER_FIELDS, PER_FIELDS, any_model_matches, as_list, describe_filters, scope_matches
from .schema import ModelPolicy, RateLimitPolicy

if TYPE_CHECKING:
    from .engine import PolicyEngine

WINDOW_SECONDS = 60.0


class ModelRule:
    def __init__(self, policy: ModelPolicy) -> None:
        self.policy = policy
        self.name = policy.name
        self.filters = {
            "teams": [*policy.teams, *as_list(policy.team)],
            "projects": list(policy.projects),
            "customers": list(policy.customers),
            "environments": [*policy.environments, *as_list(policy.environment)],
        }
        self.scope_text = describe_filters(self.filters, policy.models)

    def evaluate(self, att: Attempt, engine: PolicyEngine) -> None:
        model = att.model
        if model is None or not scope_matches(self.filters, self.policy.models, att.call.attribution, model):
            return
        p = self.policy
        if any_model_matches(model, p.blocked):
            why = f"model {model!r} is blocked ({', '.join(p.blocked)})"
        elif p.allowed and not any_model_matches(model, p.allowed):
            why = f"model {model!r} is not allowed (allowed: {', '.join(p.allowed)})"
        else:
            att.decide(self.name, "model", "allow")
            return
        where = f" for {self.scope_text}" if self.scope_text != "global" else ""
        if p.enforcement == "WARNING":
            att.decide(self.name, "model", "warn", "MODEL_DENIED", f"{why}{where}")
            return
        message = f"GenOps policy {self.name!r} (model, BLOCKED) refused the call: {why}{where}."
        raise refuse(att, self.name, "model", "MODEL_DENIED", message, scope=self.scope_text)


class RateLimitRule:
    def __init__(self, policy: RateLimitPolicy) -> None:
        self.policy = policy
        self.name = policy.name
        self.filters = {k: list(getattr(policy, k)) for k in FILTER_FIELDS}
        self.scope_text = describe_filters(self.filters, policy.models)

    def scope_value(self, att: Attempt) -> str:
        if self.policy.per == "scope":
            return "*"
        field = PER_FIELDS[self.policy.per]
        return f"{self.policy.per}={getattr(att.call.attribution, field) or ''}"

    def evaluate(self, att: Attempt, engine: PolicyEngine) -> None:
        p = self.policy
        if not scope_matches(self.filters, p.models, att.call.attribution, att.model):
            return
        scope = self.scope_value(att)
        key = f"{self.name}|{scope}"
        weight = att.input_tokens + (att.call.max_output_tokens or 0)
        warn = p.enforcement == "WARNING"
        result = engine.store.rate_acquire(
            key, att.now, WINDOW_SECONDS, weight,
            None if warn else p.requests_per_minute, None if warn else p.tokens_per_minute,
        )  # fmt: skip
        if result.ok:
            att.holds.append(RateHold(self, key, result.entry_id or "", weight))
            over = (p.requests_per_minute is not None and result.requests > p.requests_per_minute) or (
                p.tokens_per_minute is not None and result.tokens > p.tokens_per_minute
            )
            if over:
                att.decide(self.name, "rate_limit", "warn", "RATE_LIMITED", f"{scope}: {self._usage(result.requests, result.tokens)}")
            else:
                att.decide(self.name, "rate_limit", "allow")
            return
        wait = result.retry_after
        if p.enforcement == "THROTTLE" and att.may_wait and wait is not None and att.waited + wait <= p.max_wait_seconds:
            raise Wait(wait, self.name)
        when = "never (the request alone is over the token limit)" if wait is None else f"in {wait:.1f}s"
        waited = f" after waiting {att.waited:.1f}s" if att.waited else ""
        message = (
            f"GenOps policy {self.name!r} (rate_limit, {p.enforcement}) refused the call{waited}: {scope} "
            f"({self.scope_text}) is at {self._usage(result.requests, result.tokens)} in the last minute; "
            f"it fits again {when}."
        )
        raise refuse(att, self.name, "rate_limit", "RATE_LIMITED", message, scope=scope, retry_after=wait)

    def _usage(self, requests: int, tokens: int) -> str:
        parts = []
        if self.policy.requests_per_minute is not None:
            parts.append(f"{requests}/{self.policy.requests_per_minute} requests")
        if self.policy.tokens_per_minute is not None:
            parts.append(f"{tokens}/{self.policy.tokens_per_minute} tokens")
        return ", ".join(parts)
