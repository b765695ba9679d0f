"""ASGI middleware (FastAPI, Starlette, any ASGI app).

    app.add_middleware(GenOpsMiddleware)            # FastAPI / Starlette
    app = GenOpsMiddleware(app)                     # any ASGI app
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from .. import context
from ._request import request_attribution

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable[..., Awaitable[Any]], Callable[..., Awaitable[Any]]], Awaitable[None]]


class GenOpsMiddleware:
    def __init__(self, app: ASGIApp, user_id: Callable[[Scope], str | None] | None = None) -> None:
        self.app = app
        self.user_id = user_id

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope.get("type") not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())}
        values = request_attribution(headers)
        if self.user_id is not None and (user := self.user_id(scope)):
            values["user_id"] = user
        with context.scope(**values):
            await self.app(scope, receive, send)
