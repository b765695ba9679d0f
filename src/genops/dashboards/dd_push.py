"""Create the generated dashboards and monitors through the Datadog API (`datadog-api-client`).

Keys come from `DD_API_KEY` / `DD_APP_KEY`; the site from `DD_SITE` (e.g. `datadoghq.eu`) or
an explicit API URL (`--api-url`, also how the tests point it at a local stand-in). Order:
dashboards, then monitors, then composite monitors with their parts' new ids filled in.
Each call creates a new object (running it twice creates duplicates).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from ..errors import ConfigError, GenOpsError
from .dd_monitors import monitor_refs, resolve_refs
from .dd_validate import validate_dashboard, validate_monitor


class DatadogPushError(GenOpsError):
    """The Datadog API refused a dashboard or monitor (or could not be reached)."""


@dataclass
class PushResult:
    """What was created: dashboard stem -> (id, url), monitor key -> id."""

    dashboards: dict[str, tuple[str, str]] = field(default_factory=dict)
    monitors: dict[str, int] = field(default_factory=dict)


def datadog_configuration(
    *, api_key: str | None = None, app_key: str | None = None, site: str | None = None, api_url: str | None = None
) -> Any:
    """A `datadog_api_client.Configuration` from arguments, else DD_API_KEY / DD_APP_KEY / DD_SITE."""
    try:
        from datadog_api_client import Configuration
    except ImportError:
        raise ConfigError("--push needs the Datadog API client: pip install 'genops-ai[datadog]'") from None
    api_key = api_key or os.environ.get("DD_API_KEY")
    app_key = app_key or os.environ.get("DD_APP_KEY")
    missing = [name for name, value in (("DD_API_KEY", api_key), ("DD_APP_KEY", app_key)) if not value]
    if missing:
        raise ConfigError(f"--push needs the Datadog keys in the environment: {' and '.join(missing)} not set")
    config = Configuration(host=api_url) if api_url else Configuration()
    if site and not api_url:
        config.server_variables["site"] = site
    config.api_key["apiKeyAuth"] = api_key
    config.api_key["appKeyAuth"] = app_key
    return config


def _call(what: str, fn: Callable[[], Any]) -> Any:
    from datadog_api_client.exceptions import ApiException

    try:
        return fn()
    except ApiException as exc:
        body = (exc.body.decode(errors="replace") if isinstance(exc.body, bytes) else str(exc.body or "")).strip()
        raise DatadogPushError(f"Datadog API refused {what}: {exc.status} {exc.reason}" + (f": {body[:500]}" if body else "")) from None
    except OSError as exc:  # connection refused, DNS, TLS
        raise DatadogPushError(f"cannot reach the Datadog API for {what}: {exc}") from None
    except Exception as exc:  # urllib3 wraps connection errors in its own types
        if type(exc).__module__.startswith("urllib3"):
            raise DatadogPushError(f"cannot reach the Datadog API for {what}: {exc}") from None
        raise


def push(
    dashboards: Mapping[str, dict[str, Any]],
    monitors: Mapping[str, dict[str, Any]],
    configuration: Any,
    on_created: Callable[[str, str], None] | None = None,
) -> PushResult:
    """Create every dashboard and monitor; `on_created(kind, description)` reports progress."""
    from datadog_api_client import ApiClient
    from datadog_api_client.v1.api.dashboards_api import DashboardsApi
    from datadog_api_client.v1.api.monitors_api import MonitorsApi

    result = PushResult()
    with ApiClient(configuration) as client:
        dashboards_api, monitors_api = DashboardsApi(client), MonitorsApi(client)
        for stem, body in dashboards.items():
            model = validate_dashboard(body, f"dashboard {stem!r}")
            created = _call(f"dashboard {stem!r}", partial(dashboards_api.create_dashboard, body=model))
            result.dashboards[stem] = (str(created.id), str(getattr(created, "url", "") or ""))
            if on_created:
                on_created("dashboard", f"{body['title']} (id {created.id})")
        ordered = sorted(monitors.items(), key=lambda kv: bool(monitor_refs(kv[1])))
        for key, body in ordered:
            missing = [ref for ref in monitor_refs(body) if ref not in result.monitors]
            if missing:
                raise DatadogPushError(f"composite monitor {key!r} refers to monitors not created here: {', '.join(missing)}")
            body = resolve_refs(body, result.monitors)
            model = validate_monitor(body, f"monitor {key!r}")
            created = _call(f"monitor {key!r}", partial(monitors_api.create_monitor, body=model))
            result.monitors[key] = int(created.id)
            if on_created:
                on_created("monitor", f"{body['name']} (id {created.id})")
    return result
