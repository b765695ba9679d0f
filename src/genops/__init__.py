"""GenOps: OpenTelemetry-native governance for AI spend.

    from genops import GenOps
    GenOps.init(config_path="genops.yaml")
    with GenOps.track(operation="support_query", customer_id="acme"):
        client.chat.completions.create(...)
"""

from __future__ import annotations

from ._api import GenOps, init, shutdown, track, track_usage
from .errors import ConfigError, GenOpsError, PolicyViolationError
from .events import Attribution, Cost, Usage, UsageEvent

__all__ = [
    "Attribution",
    "ConfigError",
    "Cost",
    "GenOps",
    "GenOpsError",
    "PolicyViolationError",
    "Usage",
    "UsageEvent",
    "init",
    "shutdown",
    "track",
    "track_usage",
]


def __getattr__(name: str) -> str:
    if name == "__version__":
        from importlib.metadata import version

        return version("genops-ai")
    raise AttributeError(name)
