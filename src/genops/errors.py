"""GenOps' exceptions. The only one raised into a host application on purpose is
`PolicyViolationError`; configuration errors are raised by `GenOps.init` and the CLI."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal


class GenOpsError(Exception):
    """Base class of GenOps' own errors."""


class ConfigError(GenOpsError, ValueError):
    """A configuration problem, with where it is (file, line, field) when known.

    When several problems were found, `errors` lists each one (the message has one per line).
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
        errors: list[ConfigError] | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.field = field
        self.errors: list[ConfigError] = errors if errors else [self]
        where = ""
        if path:
            where = f"{path}:{line}: " if line else f"{path}: "
        super().__init__(f"{where}{message}")


class PolicyViolationError(GenOpsError):
    """A policy refused a call before it reached the provider.

    Attributes: `policy` (name), `policy_type`, `reason` (BUDGET_EXCEEDED, MODEL_DENIED,
    RATE_LIMITED, ...), `scope`, `spent`, `reserved`, `limit`, `period_end`.
    """

    def __init__(
        self,
        message: str,
        *,
        policy: str,
        policy_type: str,
        reason: str,
        scope: str | None = None,
        spent: Decimal | None = None,
        reserved: Decimal | None = None,
        limit: Decimal | None = None,
        period_end: datetime | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.policy = policy
        self.policy_type = policy_type
        self.reason = reason
        self.scope = scope
        self.spent = spent
        self.reserved = reserved
        self.limit = limit
        self.period_end = period_end
        self.retry_after = retry_after
