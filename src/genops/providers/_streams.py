"""Stream proxies: the event is recorded when a stream is exhausted, closed, fails or is dropped.

A proxy is a `wrapt.ObjectProxy`, so the user still holds an object of the SDK's own stream type.
A `StreamMeter` sees every item and turns what it saw into a `Usage` at the end.
"""

from __future__ import annotations

import inspect
from typing import Any, Protocol, Self

import wrapt

from .._guard import guarded
from ..events import Usage
from ..pipeline import Call


class StreamMeter(Protocol):
    def on_item(self, item: Any) -> None: ...

    def result(self) -> tuple[Usage, str | None]:
        """(usage, response model) from what was seen; usage is `estimated` if none was reported."""


def _end(call: Call, meter: StreamMeter, *, complete: bool, error: BaseException | None = None) -> None:
    if call.done:
        return
    with guarded("stream.end"):
        usage, model = meter.result()
        if error is not None:
            call.fail(error, usage)
        elif complete:
            call.finish(usage, model)
        else:
            call.finish_incomplete(usage, model)


class SyncStream(wrapt.ObjectProxy):  # type: ignore[misc]
    def __init__(self, wrapped: Any, call: Call, meter: StreamMeter) -> None:
        super().__init__(wrapped)
        self._self_call = call
        self._self_meter = meter

    def __iter__(self) -> SyncStream:
        return self

    def __next__(self) -> Any:
        try:
            item = next(self.__wrapped__)
        except StopIteration:
            _end(self._self_call, self._self_meter, complete=True)
            raise
        except BaseException as exc:
            _end(self._self_call, self._self_meter, complete=False, error=exc)
            raise
        with guarded("stream.item"):
            self._self_meter.on_item(item)
        return item

    def __enter__(self) -> Self:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, *exc: object) -> Any:
        try:
            return self.__wrapped__.__exit__(*exc)
        finally:
            _end(self._self_call, self._self_meter, complete=False)

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            _end(self._self_call, self._self_meter, complete=False)

    def __del__(self) -> None:
        _end(self._self_call, self._self_meter, complete=False)


class AsyncStream(wrapt.ObjectProxy):  # type: ignore[misc]
    def __init__(self, wrapped: Any, call: Call, meter: StreamMeter) -> None:
        super().__init__(wrapped)
        self._self_call = call
        self._self_meter = meter

    def __aiter__(self) -> AsyncStream:
        return self

    async def __anext__(self) -> Any:
        try:
            item = await self.__wrapped__.__anext__()
        except StopAsyncIteration:
            _end(self._self_call, self._self_meter, complete=True)
            raise
        except BaseException as exc:
            _end(self._self_call, self._self_meter, complete=False, error=exc)
            raise
        with guarded("stream.item"):
            self._self_meter.on_item(item)
        return item

    async def __aenter__(self) -> Self:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> Any:
        try:
            return await self.__wrapped__.__aexit__(*exc)
        finally:
            _end(self._self_call, self._self_meter, complete=False)

    async def close(self) -> None:
        try:
            await self.__wrapped__.close()
        finally:
            _end(self._self_call, self._self_meter, complete=False)

    def __del__(self) -> None:
        _end(self._self_call, self._self_meter, complete=False)


class RawStreamResponse(wrapt.ObjectProxy):  # type: ignore[misc]
    """A streamed call made through `with_raw_response` / `with_streaming_response`: the SDK
    returns a response object whose `parse()` gives the stream, so that stream is metered."""

    def __init__(self, wrapped: Any, call: Call, meter: StreamMeter) -> None:
        super().__init__(wrapped)
        self._self_call = call
        self._self_meter = meter
        self._self_stream: Any = None

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        parsed = self.__wrapped__.parse(*args, **kwargs)
        if inspect.isawaitable(parsed):  # an async streaming response
            return self._self_parse_async(parsed)
        return self._self_metered(parsed)

    async def _self_parse_async(self, parsed: Any) -> Any:
        return self._self_metered(await parsed)

    def _self_metered(self, stream: Any) -> Any:
        if self._self_stream is None:
            proxy = AsyncStream if hasattr(stream, "__anext__") else SyncStream
            self._self_stream = proxy(stream, self._self_call, self._self_meter)
        return self._self_stream

    def __del__(self) -> None:
        if self._self_stream is None:  # never parsed (read as raw lines, or dropped): estimated
            _end(self._self_call, self._self_meter, complete=False)


def metered_stream(result: Any, call: Call, meter: StreamMeter, *, is_async: bool) -> Any:
    """The proxy that meters a streamed call's result (a stream, or a raw response holding one)."""
    if hasattr(result, "parse") and not hasattr(result, "__next__") and not hasattr(result, "__anext__"):
        return RawStreamResponse(result, call, meter)
    return (AsyncStream if is_async else SyncStream)(result, call, meter)
