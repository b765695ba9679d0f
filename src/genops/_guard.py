"""One guard for GenOps' own failures: log and let the host application continue.

Under pytest (or with GENOPS_STRICT=1) internal errors re-raise so bugs surface in tests.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger("genops")

_errors: list[BaseException] = []


def strict() -> bool:
    return os.environ.get("GENOPS_STRICT") == "1" or "pytest" in sys.modules


def internal_error(exc: BaseException, where: str) -> None:
    """Record an internal error: logged always, re-raised in strict mode by `guarded`."""
    _errors.append(exc)
    del _errors[:-100]
    logger.exception("GenOps internal error in %s (the application continues)", where, exc_info=exc)


def recent_errors() -> list[BaseException]:
    """Internal errors seen by this process (last 100), for tests and `genops doctor`."""
    return list(_errors)


def clear_errors() -> None:
    _errors.clear()


@contextmanager
def guarded(where: str) -> Iterator[None]:
    """Run GenOps bookkeeping; failures are logged and swallowed (re-raised when strict)."""
    try:
        yield
    except Exception as exc:  # this is the one place that catches everything
        internal_error(exc, where)
        if strict():
            raise
