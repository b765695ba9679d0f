"""The policy types as written in `genops.yaml` (`policies:` list items).

Each type is a strict pydantic model: unknown fields are configuration errors.
`POLICY_MODELS[type]` is used by the config loader to validate each policy item.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .periods import check_timezone


class _Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str | None = None
    on_store_error: Literal["allow", "block"] = "allow"


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


class _Scoped(_Policy):
    """Scope filters; an empty filter matches everything."""

    teams: list[str] = Field(default_factory=list)
    projects: list[str] = Field(default_factory=list)
    customers: list[str] = Field(default_factory=list)
    environments: list[str] = Field(default_factory=list)
    models: list[str] = Field(default_factory=list)  # glob patterns

    _listify = field_validator("teams", "projects", "customers", "environments", "models", mode="before")(
        lambda cls, v: _as_list(v)
    )


class BudgetPolicy(_Scoped):
    type: Literal["budget"]
    limit: Decimal = Field(gt=0)
    period: Literal["daily", "weekly", "monthly", "quarterly", "yearly"] = "monthly"
    timezone: str = "UTC"
    enforcement: Literal["WARNING", "BLOCKED"] = "WARNING"
    thresholds: list[float] = Field(default_factory=lambda: [0.8, 1.0])
    per: Literal["scope", "team", "project", "customer"] = "scope"  # one budget for the scope, or one per value
    # A reservation left by a crashed process stops counting after this many seconds.
    reservation_ttl_seconds: float = Field(default=900.0, gt=0)
    # BLOCKED budgets and models without a known price: refuse (PRICE_UNKNOWN) or let through unreserved.
    on_unknown_price: Literal["block", "allow"] = "block"
    # Output tokens assumed for the worst case when a request sets no max_tokens (default: the model's maximum).
    max_output_tokens: int | None = Field(default=None, gt=0)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("thresholds")
    @classmethod
    def _sane_thresholds(cls, value: list[float]) -> list[float]:
        if any(t <= 0 for t in value):
            raise ValueError("thresholds are fractions of the limit and must be > 0 (e.g. 0.8 for 80%)")
        return sorted(set(value))


class ModelPolicy(_Scoped):
    type: Literal["model"]
    blocked: list[str] = Field(default_factory=list)
    allowed: list[str] = Field(default_factory=list)
    environment: str | list[str] | None = None  # case-study spelling of `environments`
    team: str | list[str] | None = None
    enforcement: Literal["WARNING", "BLOCKED"] = "BLOCKED"

    @model_validator(mode="after")
    def _has_a_rule(self) -> ModelPolicy:
        if not self.blocked and not self.allowed:
            raise ValueError("a model policy needs `blocked` and/or `allowed` model patterns")
        return self


class RateLimitPolicy(_Scoped):
    type: Literal["rate_limit"]
    requests_per_minute: int | None = Field(default=None, gt=0)
    tokens_per_minute: int | None = Field(default=None, gt=0)
    per: Literal["team", "project", "customer", "scope"] = "team"
    enforcement: Literal["WARNING", "BLOCKED", "THROTTLE"] = "BLOCKED"
    max_wait_seconds: float = Field(default=10.0, ge=0)

    @model_validator(mode="after")
    def _has_a_limit(self) -> RateLimitPolicy:
        if self.requests_per_minute is None and self.tokens_per_minute is None:
            raise ValueError("a rate_limit policy needs requests_per_minute and/or tokens_per_minute")
        return self


class FallbackConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    primary: str
    fallback: list[str] = Field(min_length=1)

    _listify = field_validator("fallback", mode="before")(lambda cls, v: _as_list(v))


class CustomPolicy(_Policy):
    type: Literal["custom"]
    config: FallbackConfig
    enforcement: Literal["WARNING", "BLOCKED"] = "BLOCKED"


AnyPolicy = Annotated[BudgetPolicy | ModelPolicy | RateLimitPolicy | CustomPolicy, Field(discriminator="type")]

POLICY_MODELS: dict[str, type[_Policy]] = {
    "budget": BudgetPolicy,
    "model": ModelPolicy,
    "rate_limit": RateLimitPolicy,
    "custom": CustomPolicy,
}
