"""A stand-in provider HTTP server speaking the OpenAI, Anthropic and Cohere v2 wire formats.

Point the real SDKs at it through ``base_url``::

    from genops.testing import StandInServer
    import openai

    with StandInServer() as server:
        server.set_usage(model="gpt-4o", input_tokens=1000, output_tokens=500)
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="test")
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])

Without an override, usage is deterministic: input tokens = ``max(1, ceil(chars / 4))`` of the
prompt text, output tokens = 20 (or ``max_tokens`` / ``max_output_tokens`` when smaller), and
the reply is a fixed sentence cut to that many words.

Run ``python -m genops.testing.server --port 8089`` to serve until killed (prints the URL).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

from ._common import UsageOverride
from ._http import StandInHTTPServer
from ._state import Failure, RecordedRequest, ServerState

__all__ = ["RecordedRequest", "StandInServer", "main"]


def _non_negative(name: str, value: Any, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")


class StandInServer:
    """Local stand-in for provider APIs, with deterministic usage and failure injection.

    ``host``/``port`` choose the listening address (``port=0`` picks a free port). The server
    is thread-safe; one instance can serve a whole test session (call ``reset()`` per test).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._requested_port = port
        self._state = ServerState()
        self._httpd: StandInHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._serving_here = False
        self._weaviate_grpc: Any = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind and serve in a background daemon thread. Returns ``self``."""
        if self._thread is not None:
            return self
        httpd = self._bind()
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="genops-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the listening socket and any open keep-alive connections."""
        grpc_server, self._weaviate_grpc = self._weaviate_grpc, None
        if grpc_server is not None:
            grpc_server.stop()
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        if self._thread is not None or self._serving_here:
            httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _bind(self) -> StandInHTTPServer:
        if self._httpd is None:
            self._httpd = StandInHTTPServer((self.host, self._requested_port), self._state)
        return self._httpd

    def serve_forever(self) -> None:
        """Bind (if needed) and serve on the calling thread until ``stop()`` or an exception."""
        httpd = self._bind()
        self._serving_here = True
        try:
            httpd.serve_forever(poll_interval=0.05)
        finally:
            self._serving_here = False

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("StandInServer is not started; call start() first")
        return self._httpd.server_port

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` (also the Anthropic and Cohere base URL)."""
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """``base_url + "/v1"``, as the OpenAI SDK expects."""
        return f"{self.base_url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.base_url

    @property
    def cohere_base_url(self) -> str:
        return self.base_url

    @property
    def pinecone_host(self) -> str:
        """The Pinecone index host (``pc.index(name=..., host=server.pinecone_host)``): the
        data plane (query, upsert, delete, fetch, describe_index_stats) is served at the root."""
        return self.base_url

    @property
    def weaviate_http_port(self) -> int:
        """Weaviate's REST port (the server's own port)."""
        return self.port

    @property
    def weaviate_grpc_port(self) -> int:
        """Weaviate's gRPC port: a gRPC stand-in started on first use (needs ``weaviate-client``)."""
        if self._weaviate_grpc is None:
            from .weaviate_grpc import WeaviateGrpcServer

            self._weaviate_grpc = WeaviateGrpcServer(self._state.vectors, self.host, self._record_grpc)
        return int(self._weaviate_grpc.port)

    def _record_grpc(self, method: str, request: Any) -> int | None:
        """Record one gRPC call (``json`` holds the protobuf request); the HTTP status of an
        injected failure (``fail_next(path="/Search")``) when one matches."""
        path = f"/weaviate.v1.Weaviate/{method}"
        self._state.record(RecordedRequest("GRPC", path, {}, request))
        failure = self._state.take_failure(path, None)
        return None if failure is None else failure.status

    # -- controls --------------------------------------------------------------------------

    def set_read_units(self, read_units: int | None) -> None:
        """Fix the ``usage.readUnits`` of Pinecone query replies (``None``: computed, one per
        started GB of the namespace)."""
        if read_units is not None:
            _non_negative("read_units", read_units)
        self._state.vectors.read_units = read_units

    @property
    def latency(self) -> float:
        """Seconds of delay added before each response."""
        return self._state.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        _non_negative("latency", seconds)
        self._state.latency = float(seconds)

    @property
    def chunk_delay(self) -> float:
        """Seconds of delay before each SSE event of a stream."""
        return self._state.chunk_delay

    @chunk_delay.setter
    def chunk_delay(self, seconds: float) -> None:
        _non_negative("chunk_delay", seconds)
        self._state.chunk_delay = float(seconds)

    def set_usage(
        self,
        model: str | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cached_tokens: int = 0,
        reasoning_tokens: int = 0,
        cache_creation_tokens: int = 0,
        search_units: int | None = None,
    ) -> None:
        """Fix the usage reported for requests of ``model`` (``None``: every model without its
        own override). ``None`` token counts keep the computed default.

        Figures are written verbatim into each provider's own fields: OpenAI ``prompt_tokens``
        (which includes ``cached_tokens``) / ``completion_tokens`` (which includes
        ``reasoning_tokens``); Anthropic ``input_tokens`` (uncached only),
        ``cache_read_input_tokens`` = cached_tokens, ``cache_creation_input_tokens``;
        Cohere ``billed_units`` (and ``search_units`` for rerank).
        """
        for name, value in (("input_tokens", input_tokens), ("output_tokens", output_tokens)):
            _non_negative(name, value, allow_none=True)
        for name, value in (
            ("cached_tokens", cached_tokens),
            ("reasoning_tokens", reasoning_tokens),
            ("cache_creation_tokens", cache_creation_tokens),
        ):
            _non_negative(name, value)
        _non_negative("search_units", search_units, allow_none=True)
        override = UsageOverride(
            input_tokens, output_tokens, cached_tokens, reasoning_tokens, cache_creation_tokens, search_units
        )
        with self._state.lock:
            self._state.usage[model] = override

    def set_response_model(self, requested: str, responded: str) -> None:
        """Answer requests for ``requested`` with ``model = responded`` (e.g. a dated name)."""
        with self._state.lock:
            self._state.response_models[requested] = responded

    def fail_next(
        self,
        status: int = 500,
        count: int = 1,
        model: str | None = None,
        body: Any = None,
        path: str | None = None,
        retry_after: float = 0.05,
    ) -> None:
        """Answer the next ``count`` matching requests with HTTP ``status``.

        ``model``/``path`` (a path suffix such as ``"/chat/completions"``) restrict which
        requests match. The body is the provider's own error JSON unless ``body`` (a dict,
        str or bytes) is given. 429 and 503 replies carry ``retry-after`` (whole seconds,
        rounded up) and ``retry-after-ms`` headers from ``retry_after``.
        """
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error status (400-599), got {status!r}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be a positive integer, got {count!r}")
        _non_negative("retry_after", retry_after)
        with self._state.lock:
            self._state.failures.append(Failure(status, count, model, body, path, float(retry_after)))

    def drop_stream_after(self, n_chunks: int) -> None:
        """Make the next streamed response close the connection abruptly after ``n_chunks``
        SSE events (the client sees an incomplete chunked body)."""
        if isinstance(n_chunks, bool) or not isinstance(n_chunks, int) or n_chunks < 0:
            raise ValueError(f"n_chunks must be a non-negative integer, got {n_chunks!r}")
        with self._state.lock:
            self._state.drop_after = n_chunks

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the requests received since the last ``reset()``, oldest first."""
        with self._state.lock:
            return list(self._state.requests)

    def requests_for(self, path_suffix: str) -> list[RecordedRequest]:
        """Recorded requests whose path ends with ``path_suffix`` (e.g. ``"/chat/completions"``)."""
        return [r for r in self.requests if r.path.endswith(path_suffix)]

    def reset(self) -> None:
        """Clear recorded requests, usage overrides, model mappings, failures, drops, delays and
        stored vectors."""
        self._state.reset()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m genops.testing.server``: serve until killed, printing the base URL first."""
    parser = argparse.ArgumentParser(prog="python -m genops.testing.server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089, help="0 picks a free port (default 8089)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added before each response")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds added before each SSE event")
    args = parser.parse_args(argv)
    server = StandInServer(host=args.host, port=args.port)
    server.latency = args.latency
    server.chunk_delay = args.chunk_delay
    server._bind()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(server.base_url, flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
