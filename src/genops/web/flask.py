"""Flask extension: every request runs in an attribution scope.

    from genops.web.flask import GenOpsExtension

    app = Flask(__name__)
    GenOpsExtension(app)                       # or: ext = GenOpsExtension(); ext.init_app(app)
    # or: genops.web.flask.init_app(app, user_id=lambda request: current_user.get_id())

The scope opens in `before_request` (before any other before-request hook) and closes in
`teardown_request`. It holds, weakest first: W3C `baggage` from the caller (`genops.*`
members), the configured `attribution.customer_field` / `user_field` request headers, then the
optional `user_id(request)` hook. genops.yaml's `attribution` defaults apply to every call as
usual, so views need no per-route code; a `GenOps.track` inside a view still overrides.

A streamed response body is produced after the request ends; wrap its generator in Flask's
`stream_with_context` to keep the scope (and the request context) while it runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .. import context
from ._request import request_attribution

try:
    from flask import Flask, g, request
except ImportError as exc:  # pragma: no cover - exercised only without Flask
    raise ImportError("genops.web.flask needs Flask: pip install 'genops-ai[flask]'") from exc

__all__ = ["GenOpsExtension", "init_app"]

logger = logging.getLogger("genops")

_TOKEN = "_genops_attribution_token"

UserIdHook = Callable[[Any], Any]


class GenOpsExtension:
    """Opens a GenOps attribution scope around each request of the app(s) it is attached to."""

    def __init__(self, app: Flask | None = None, *, user_id: UserIdHook | None = None) -> None:
        self.user_id = user_id
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Register the request hooks on `app` (idempotent per app)."""
        if app.extensions.get("genops") is self:
            return
        app.extensions["genops"] = self
        app.before_request_funcs.setdefault(None, []).insert(0, self._open_scope)
        app.teardown_request(self._close_scope)

    def _open_scope(self) -> None:
        values = request_attribution(dict(request.headers))
        if self.user_id is not None:
            try:
                user = self.user_id(request)
            except Exception:  # the user's hook must not break the request
                logger.exception("GenOps: the user-id hook %r failed; request continues without a user id", self.user_id)
                user = None
            if user is not None and user != "":
                values["user_id"] = user
        setattr(g, _TOKEN, context.set_attribution(context.current().merged(**values)))

    def _close_scope(self, _exc: BaseException | None) -> None:
        token = g.pop(_TOKEN, None)
        if token is None:
            return
        try:
            context.reset_attribution(token)
        except ValueError:  # opened in another context (e.g. a copied one): nothing to undo here
            pass


def init_app(app: Flask, *, user_id: UserIdHook | None = None) -> GenOpsExtension:
    """Attach GenOps to `app`; returns the extension."""
    return GenOpsExtension(app, user_id=user_id)
