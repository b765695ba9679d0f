"""Reversible patches (wrapt) shared by the integrations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import wrapt


class Instrumentation:
    """A set of patches that `uninstrument()` removes again."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._undo: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, attribute: str, wrapper: Callable[..., Any]) -> None:
        original = owner.__dict__[attribute]
        self._undo.append((owner, attribute, original))
        wrapt.wrap_function_wrapper(owner, attribute, wrapper)

    @property
    def active(self) -> bool:
        return bool(self._undo)

    def uninstrument(self) -> None:
        while self._undo:
            owner, attribute, original = self._undo.pop()
            setattr(owner, attribute, original)


def missing_library(extra: str, library: str) -> ImportError:
    return ImportError(f"GenOps' {library} integration needs {library}: pip install 'genops-ai[{extra}]'")
