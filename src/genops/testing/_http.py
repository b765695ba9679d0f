"""HTTP/1.1 plumbing of the stand-in server: routing, request logging, injected failures,
keep-alive JSON replies (one write with Content-Length) and chunked SSE streams."""

from __future__ import annotations

import json
import math
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from types import ModuleType
from typing import Any

from . import anthropic_wire, cohere_wire, openai_responses_wire, openai_wire, pinecone_wire, weaviate_wire
from ._common import BASE62, Reply, ReplyContext, StreamReply, dumps, stable_id
from ._state import Failure, RecordedRequest, ServerState

Handler = Callable[[Any, ReplyContext], Reply]

ROUTES: dict[tuple[str, str], tuple[ModuleType, Handler]] = {
    ("POST", "/v1/chat/completions"): (openai_wire, openai_wire.chat_completions),
    ("POST", "/v1/embeddings"): (openai_wire, openai_wire.embeddings),
    ("POST", "/v1/responses"): (openai_wire, openai_responses_wire.responses),
    ("GET", "/v1/models"): (openai_wire, openai_wire.models),
    ("POST", "/v1/messages"): (anthropic_wire, anthropic_wire.messages),
    ("POST", "/v1/messages/count_tokens"): (anthropic_wire, anthropic_wire.count_tokens),
    ("POST", "/v2/chat"): (cohere_wire, cohere_wire.chat),
    ("POST", "/v2/embed"): (cohere_wire, cohere_wire.embed),
    ("POST", "/v2/rerank"): (cohere_wire, cohere_wire.rerank),
    # Pinecone data plane (the index host is the server's base URL)
    ("POST", "/query"): (pinecone_wire, pinecone_wire.query),
    ("POST", "/vectors/upsert"): (pinecone_wire, pinecone_wire.upsert),
    ("POST", "/vectors/delete"): (pinecone_wire, pinecone_wire.delete),
    ("POST", "/describe_index_stats"): (pinecone_wire, pinecone_wire.describe_index_stats),
    ("GET", "/vectors/fetch"): (pinecone_wire, pinecone_wire.fetch),
    # Weaviate REST (queries and batches use the gRPC stand-in, weaviate_grpc.py)
    ("GET", "/v1/meta"): (weaviate_wire, weaviate_wire.meta),
    ("GET", "/v1/.well-known/ready"): (weaviate_wire, weaviate_wire.ready),
    ("GET", "/v1/.well-known/live"): (weaviate_wire, weaviate_wire.ready),
    ("POST", "/v1/objects"): (weaviate_wire, weaviate_wire.create_object),
    ("POST", "/v1/schema"): (weaviate_wire, weaviate_wire.create_schema),
}

# Routes whose path carries names or ids: (method, path prefix).
PREFIX_ROUTES: dict[tuple[str, str], tuple[ModuleType, Handler]] = {
    **{(m, weaviate_wire.PREFIX): (weaviate_wire, weaviate_wire.object_by_id) for m in ("GET", "PUT", "PATCH", "DELETE")},
    ("GET", "/v1/schema/"): (weaviate_wire, weaviate_wire.get_schema),
}
_PINECONE_PATHS = ("/query", "/vectors/", "/describe_index_stats")
_WEAVIATE_PATHS = ("/v1/objects", "/v1/meta", "/v1/.well-known/", "/v1/schema", "/v1/batch")


def _route(method: str, path: str) -> tuple[ModuleType, Handler] | None:
    route = ROUTES.get((method, path))
    if route is None:
        for (m, prefix), target in PREFIX_ROUTES.items():
            if m == method and path.startswith(prefix) and len(path) > len(prefix):
                return target
    return route

_REASONS = {529: "Overloaded"}


def _provider_for(path: str) -> ModuleType:
    if path.startswith(_PINECONE_PATHS):
        return pinecone_wire
    if path.startswith(_WEAVIATE_PATHS):
        return weaviate_wire
    if path.startswith("/v2/"):
        return cohere_wire
    if path.startswith("/v1/messages"):
        return anthropic_wire
    return openai_wire


def _request_id_headers(provider: ModuleType, seq: int) -> dict[str, str]:
    if provider is anthropic_wire:
        return {"request-id": "req_011C" + stable_id(f"req{seq}", 20, BASE62)}
    return {"x-request-id": "req_" + stable_id(f"req{seq}", 32)}


class StandInHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its ``ServerState`` and open connections."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: ServerState) -> None:
        self.state = state
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, StandInHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can stall without DNS.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class StandInHandler(BaseHTTPRequestHandler):
    """Serves one keep-alive connection."""

    server: StandInHTTPServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "genops-standin"

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self, method: str) -> None:
        state = self.server.state
        path, _, query = self.path.partition("?")
        raw = self._read_body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        route = _route(method, path)
        provider = route[0] if route else _provider_for(path)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            state.record(RecordedRequest(method, path, headers, None, query))
            self._send_error(provider, 400, message="could not parse the JSON body")
            return
        state.record(RecordedRequest(method, path, headers, body, query))
        if route is None:
            self._send_error(provider, 404, message=f"stand-in server: no route for {method} {path}")
            return
        model = body.get("model") if isinstance(body, dict) else None
        failure = state.take_failure(path, model)
        if state.latency:
            time.sleep(state.latency)
        if failure is not None:
            self._send_failure(provider, failure)
            return
        if method == "POST" and getattr(provider, "NEEDS_MODEL", True) and not isinstance(model, str):
            self._send_error(provider, 400, message="model: field required")
            return
        ctx = ReplyContext(state.usage_for, state.response_model, state.next_seq, lambda: int(time.time()),
                           path=path, method=method, query=query, vectors=state.vectors)  # fmt: skip
        try:
            reply = route[1](body, ctx)
        except Exception:  # noqa: BLE001 - a stand-in bug must be visible, not look like a provider outage
            traceback.print_exc()
            self._send_error(provider, 500, message="stand-in server error (see its stderr)")
            return
        extra = _request_id_headers(provider, state.next_seq())
        if isinstance(reply, StreamReply):
            self._send_stream(reply, {**extra, **reply.headers})
        else:
            self._send_json(reply.status, reply.body, {**extra, **reply.headers})

    def _send_failure(self, provider: ModuleType, failure: Failure) -> None:
        headers = _request_id_headers(provider, self.server.state.next_seq())
        if failure.status == 429 or failure.status == 503:
            headers["retry-after"] = str(max(1, math.ceil(failure.retry_after)))
            headers["retry-after-ms"] = str(int(failure.retry_after * 1000))
        if failure.body is None:
            body: Any = provider.error_body(failure.status)
        else:
            body = failure.body
        self._send_json(failure.status, body, headers)

    def _send_error(self, provider: ModuleType, status: int, message: str) -> None:
        self._send_json(status, provider.error_body(status, message), {})

    def _head(self, status: int, headers: dict[str, str]) -> bytes:
        reason = _REASONS.get(status)
        if reason is None:
            try:
                reason = HTTPStatus(status).phrase
            except ValueError:
                reason = "Error"
        lines = [f"HTTP/1.1 {status} {reason}"]
        lines.extend(f"{k}: {v}" for k, v in headers.items())
        if self.close_connection:
            lines.append("connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send_json(self, status: int, body: Any, headers: dict[str, str]) -> None:
        payload = body if isinstance(body, bytes) else (body if isinstance(body, str) else dumps(body)).encode()
        head = self._head(
            status,
            {"content-type": "application/json", "content-length": str(len(payload)), **headers},
        )
        self.wfile.write(head + payload)

    def _send_stream(self, reply: StreamReply, headers: dict[str, str]) -> None:
        state = self.server.state
        head = self._head(
            200,
            {
                "content-type": "text/event-stream; charset=utf-8",
                "transfer-encoding": "chunked",
                "cache-control": "no-cache",
                **headers,
            },
        )
        drop = state.take_drop()
        delay = state.chunk_delay
        try:
            if drop is None and not delay:
                self.wfile.write(head + _chunk(b"".join(reply.events)) + b"0\r\n\r\n")
                return
            self.wfile.write(head)
            for i, event in enumerate(reply.events):
                if drop is not None and i >= drop:
                    self._abort()
                    return
                if delay:
                    time.sleep(delay)
                self.wfile.write(_chunk(event))
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _abort(self) -> None:
        """Close mid-stream: the client sees an incomplete chunked body."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)
