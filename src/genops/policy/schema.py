"""The policy types as written in `genops.yaml` (`policies:` list items).

Each type is a strict pydantic model: unknown fields are configuration errors.
`POLICY_MODELS[type]` is used by the config loader to validate each policy item.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator


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


class ModelPolicy(_Scoped):
    type: Literal["model"]
    blocked: list[str] = Field(default_factory=list)
    allowed: list[str] = Field(default_factory=list)
    environment: str | list[str] | None = None  # case-study spelling of `environments`
    team: str | list[str] | None = None
    enforcement: Literal["WARNING", "BLOCKED"] = "BLOCKED"


class RateLimitPolicy(_Scoped):
    type: Literal["rate_limit"]
    requests_per_minute: int | None = Field(default=None, gt=0)
    tokens_per_minute: int | None = Field(default=None, gt=0)
    per: Literal["team", "project", "customer", "scope"] = "team"
    enforcement: Literal["WARNING", "BLOCKED", "THROTTLE"] = "BLOCKED"
    max_wait_seconds: float = 10.0


class FallbackConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    primary: str
    fallback: list[str]


class CustomPolicy(_Policy):
    type: Literal["custom"]
    config: FallbackConfig
    enforcement: Literal["WARNING", "BLOCKED"] = "BLOCKED"


AnyPolicy = Annotated[Union[BudgetPolicy, ModelPolicy, RateLimitPolicy, CustomPolicy], Field(discriminator="type")]

POLICY_MODELS: dict[str, type[_Policy]] = {
    "budget": BudgetPolicy,
    "model": ModelPolicy,
    "rate_limit": RateLimitPolicy,
    "custom": CustomPolicy,
}
