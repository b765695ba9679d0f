"""The public API: `GenOps.init`, `GenOps.track`, `track_usage`, `GenOps.shutdown`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Self, TypeVar, overload

from opentelemetry import trace

from . import context
from ._runtime import Runtime, get_runtime, start_runtime, stop_runtime

F = TypeVar("F", bound=Callable[..., Any])

_NOOP_TRACER = trace.NoOpTracer()


class TrackScope:
    """An attribution scope with a span; usable with `with` and `async with`."""

    __slots__ = ("_open", "span", "values")

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        # (attribution set, its token, span manager) per entry still open: one scope object may
        # be entered again before it exits (nested, or from other threads and tasks).
        self._open: list[tuple[Any, Any, Any]] = []
        self.span: Any = None

    def __enter__(self) -> Self:
        attribution = context.current().merged(**self.values)
        token = context.set_attribution(attribution)
        rt = get_runtime()
        tracer = rt.telemetry.tracer if rt is not None else _NOOP_TRACER
        name = self.values.get("operation") or "genops.track"
        effective = attribution.under(rt.defaults) if rt is not None else attribution
        attrs = {f"genops.{k}": v for k, v in effective.as_dict().items()}
        span_cm = tracer.start_as_current_span(str(name), attributes=attrs)
        self.span = span_cm.__enter__()
        self._open.append((attribution, token, span_cm))
        return self

    def __exit__(self, *exc: object) -> None:
        here = context.current()  # the attribution this context's innermost entry set
        i = next((i for i in range(len(self._open) - 1, -1, -1) if self._open[i][0] is here), len(self._open) - 1)
        _attribution, token, span_cm = self._open.pop(i)
        try:
            span_cm.__exit__(*exc)
        finally:
            context.reset_attribution(token)

    async def __aenter__(self) -> Self:
        return self.__enter__()

    async def __aexit__(self, *exc: object) -> None:
        self.__exit__(*exc)


class GenOps:
    """Entry points, also available as module functions (`genops.init`, `genops.track`)."""

    @staticmethod
    def init(config_path: str | Path | None = None, **settings: Any) -> Runtime:
        """Load configuration and instrument every installed provider library.

        Precedence: keyword argument > environment (`GENOPS_*`, `OTEL_*`) > file > default.
        Calling it again replaces the previous configuration.
        """
        from .config_loader import load_settings

        return start_runtime(load_settings(config_path, overrides=settings))

    @staticmethod
    def track(
        operation: str | None = None,
        *,
        team: str | None = None,
        project: str | None = None,
        customer_id: str | None = None,
        user_id: str | None = None,
        **custom: Any,
    ) -> TrackScope:
        """Attribute every governed call inside the block. Inner scopes override outer ones."""
        values = dict(custom, operation=operation, team=team, project=project, customer_id=customer_id, user_id=user_id)
        return TrackScope({k: v for k, v in values.items() if v is not None})

    @staticmethod
    def shutdown() -> None:
        """Flush the ledger and telemetry and remove all instrumentation."""
        stop_runtime()

    @staticmethod
    def flush() -> None:
        """Wait until every recorded event is in the ledger and exported."""
        rt = get_runtime()
        if rt is not None:
            rt.flush()


init = GenOps.init
track = GenOps.track
shutdown = GenOps.shutdown


@overload
def track_usage(func: F) -> F: ...
@overload
def track_usage(func: None = None, **values: Any) -> Callable[[F], F]: ...


def track_usage(func: Any = None, **values: Any) -> Any:
    """Decorator form of `GenOps.track`; the operation defaults to the function's name.

        @track_usage(team="support")
        async def answer(question): ...
    """

    def decorate(f: F) -> F:
        scope_values = {"operation": f.__name__, **values}
        return context.decorate(lambda: GenOps.track(**scope_values), f)

    return decorate(func) if func is not None else decorate
