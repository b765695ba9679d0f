"""Django middleware: every request runs in an attribution scope.

    # settings.py
    MIDDLEWARE = [
        ...,
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "genops.web.django.GenOpsMiddleware",     # after AuthenticationMiddleware
    ]
    GENOPS_USER_ID = "myapp.attribution.user_id"  # optional: callable(request) -> id | None

The scope holds, weakest first: W3C `baggage` from the caller (`genops.*` members), the
configured `attribution.customer_field` / `user_field` request headers, then the user id from
the hook. genops.yaml's `attribution` defaults (team, project, ...) apply to every call as
usual, so views need no per-route code; a `GenOps.track` inside a view still overrides.

The user-id hook defaults to `request.user.pk` for an authenticated user (via `request.auser()`
under ASGI, so no database access happens on the event loop). `GENOPS_USER_ID` names another
callable (sync or async) taking the request; `GENOPS_USER_ID = None` turns the hook off. A hook
that raises is logged and the request continues without a user id.

The middleware is sync- and async-capable; streaming responses keep the scope while their
content is produced.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async

from .. import context
from ._request import request_attribution

try:
    from django.conf import settings as django_settings
    from django.core.exceptions import ImproperlyConfigured
    from django.utils.module_loading import import_string
except ImportError as exc:  # pragma: no cover - exercised only without Django
    raise ImportError("genops.web.django needs Django: pip install 'genops-ai[django]'") from exc

__all__ = ["GenOpsMiddleware", "default_user_id"]

logger = logging.getLogger("genops")

SETTING = "GENOPS_USER_ID"
_DEFAULT = object()


def default_user_id(request: Any) -> Any:
    """`request.user.pk` when the request has an authenticated user, else None."""
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user.pk


async def _default_user_id_async(request: Any) -> Any:
    auser = getattr(request, "auser", None)
    if auser is None:  # no AuthenticationMiddleware: nothing lazy to resolve
        return default_user_id(request)
    user = await auser()
    return user.pk if getattr(user, "is_authenticated", False) else None


def _load_hook() -> Callable[[Any], Any] | None:
    path = getattr(django_settings, SETTING, _DEFAULT)
    if path is _DEFAULT:
        return default_user_id
    if path is None or path == "":
        return None
    if callable(path):
        return path
    if not isinstance(path, str):
        raise ImproperlyConfigured(f"settings.{SETTING} must be a dotted path to a callable, got {path!r}")
    try:
        hook = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"settings.{SETTING} = {path!r} cannot be imported: {exc}") from exc
    if not callable(hook):
        raise ImproperlyConfigured(f"settings.{SETTING} = {path!r} is not callable")
    return hook


class GenOpsMiddleware:
    """Opens a GenOps attribution scope around each request (sync or async stack)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response
        self.user_hook = _load_hook()
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: Any) -> Any:
        if self.is_async:
            return self.__acall__(request)
        values = request_attribution(request.headers)
        if self.user_hook is not None:
            self._set_user(values, self._call_hook(request))
        with context.scope(**values):
            response = self.get_response(request)
        return _keep_scope_while_streaming(response, values)

    async def __acall__(self, request: Any) -> Any:
        values = request_attribution(request.headers)
        if self.user_hook is not None:
            self._set_user(values, await self._call_hook_async(request))
        with context.scope(**values):
            response = await self.get_response(request)
        return _keep_scope_while_streaming(response, values)

    @staticmethod
    def _set_user(values: dict[str, Any], user: Any) -> None:
        if user is not None and user != "":
            values["user_id"] = user

    def _call_hook(self, request: Any) -> Any:
        try:
            return self.user_hook(request)  # type: ignore[misc]
        except Exception:  # the user's hook must not break the request
            logger.exception("GenOps: the user-id hook %r failed; request continues without a user id", self.user_hook)
            return None

    async def _call_hook_async(self, request: Any) -> Any:
        hook = self.user_hook
        try:
            if hook is default_user_id:
                return await _default_user_id_async(request)
            if iscoroutinefunction(hook):
                return await hook(request)  # type: ignore[misc]
            return await sync_to_async(hook)(request)  # type: ignore[arg-type]
        except Exception:  # the user's hook must not break the request
            logger.exception("GenOps: the user-id hook %r failed; request continues without a user id", hook)
            return None


def _keep_scope_while_streaming(response: Any, values: dict[str, Any]) -> Any:
    if getattr(response, "streaming", False):
        content = response.streaming_content
        if getattr(response, "is_async", False):
            response.streaming_content = _scoped_async(content, values)
        else:
            response.streaming_content = _scoped_sync(content, values)
    return response


def _scoped_sync(content: Iterable[Any], values: dict[str, Any]) -> Iterator[Any]:
    iterator = iter(content)
    while True:
        with context.scope(**values):
            try:
                chunk = next(iterator)
            except StopIteration:
                return
        yield chunk


async def _scoped_async(content: AsyncIterator[Any], values: dict[str, Any]) -> AsyncIterator[Any]:
    iterator = aiter(content)
    while True:
        with context.scope(**values):
            try:
                chunk = await anext(iterator)
            except StopAsyncIteration:
                return
        yield chunk
