"""Test helpers shipped with GenOps: a stand-in provider server speaking the OpenAI,
Anthropic and Cohere v2 wire formats, so the real SDKs can be exercised offline.

    from genops.testing import StandInServer

    with StandInServer() as server:
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="test")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._state import RecordedRequest

if TYPE_CHECKING:
    from .server import StandInServer

__all__ = ["RecordedRequest", "StandInServer"]


def __getattr__(name: str) -> Any:
    # Imported lazily so `python -m genops.testing.server` runs the module only once.
    if name == "StandInServer":
        from .server import StandInServer

        return StandInServer
    raise AttributeError(name)
