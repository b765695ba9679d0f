"""Real servers standing in for alert destinations: an SMTP server (aiosmtpd) and an HTTP
server (http.server in a thread) receiving Slack incoming-webhook and generic webhook POSTs.

Import into a test module: `from alert_servers import HookServer, SmtpServer, closed_port`.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections import deque
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port() -> int:
    """A port nothing listens on (connections are refused)."""
    return free_port()


# -- SMTP ---------------------------------------------------------------------------------------


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    login: str | None  # the authenticated user, if the client logged in


class SmtpServer:
    """aiosmtpd on 127.0.0.1. `refuse_next(n)` answers the next n DATA commands with 554;
    `credentials` (user, password) turns on AUTH (over plain connections, for tests)."""

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.port = free_port()
        self.mails: list[Mail] = []
        self.data_attempts = 0
        self.failed_logins = 0
        self._refuse = 0
        self._lock = threading.Lock()
        server = self

        class Handler:
            async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:
                with server._lock:
                    server.data_attempts += 1
                    if server._refuse:
                        server._refuse -= 1
                        return "554 5.3.0 mail system unavailable (test)"
                    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
                    user = session.auth_data.login.decode() if session.auth_data else None
                    server.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), message, user))  # type: ignore[arg-type]
                return "250 Message accepted for delivery"

        def authenticator(smtp: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
            ok = credentials is not None and (auth_data.login.decode(), auth_data.password.decode()) == credentials
            if not ok:
                server.failed_logins += 1
            return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

        extra: dict[str, Any] = {}
        if credentials is not None:
            extra = {"authenticator": authenticator, "auth_require_tls": False}
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **extra)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def refuse_next(self, count: int) -> None:
        with self._lock:
            self._refuse = count


# -- HTTP ---------------------------------------------------------------------------------------


@dataclass
class Hook:
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON
    status: int  # what the server answered


class HookServer:
    """Records JSON POSTs. `fail_next(*statuses)` answers the next requests with those statuses;
    `hold()` keeps requests waiting (unanswered) until `release()`."""

    def __init__(self) -> None:
        self.hooks: list[Hook] = []
        self.arrived = threading.Event()  # set when a held request came in
        self.answered = 0
        self._statuses: deque[int] = deque()
        self._release = threading.Event()
        self._release.set()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.arrived.set()
                server._release.wait(20)  # a held request waits here (bounded: never hang the suite)
                with server._lock:
                    status = server._statuses.popleft() if server._statuses else 200
                    server.hooks.append(Hook(self.path, dict(self.headers), json.loads(raw), status))
                    server.answered += 1
                body = b"ok" if status == 200 else b"unavailable"
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> HookServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def fail_next(self, *statuses: int) -> None:
        with self._lock:
            self._statuses.extend(statuses)

    def hold(self) -> None:
        self.arrived.clear()
        self._release.clear()

    def release(self) -> None:
        self._release.set()

    def delivered(self, path: str) -> list[Any]:
        """Bodies of the requests to `path` that were answered 200."""
        with self._lock:
            return [h.body for h in self.hooks if h.path == path and h.status == 200]

    def received(self, path: str) -> list[Hook]:
        with self._lock:
            return [h for h in self.hooks if h.path == path]
