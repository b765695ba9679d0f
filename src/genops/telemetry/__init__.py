"""Telemetry: spans and metrics as a view of usage events.

CONTRACT: `Telemetry(settings)` with `.tracer` (for `GenOps.track` spans), `.handle(batch)`
(processor sink: one span per event, parented on the captured context, plus metrics),
`.flush()`, `.force_flush()`, `.close()`, `.shutdown()`.
"""

from .setup import Telemetry

__all__ = ["Telemetry"]
