"""Check Datadog bodies against the `datadog-api-client` models, strictly.

The client's own deserializer (`ApiClient.deserialize`, what it runs on API responses) builds
`Dashboard` / `Monitor` models and rejects wrong types and missing required fields. It is
lenient by design about two things, which a generated body must not rely on: an unknown enum
value or an object that matches no schema becomes an "unparsed" placeholder, and unknown keys
are kept as additional properties. `validate_dashboard` and `validate_monitor` walk the
deserialized model and reject both, naming the path (`widgets[3].definition.markers[0]`).
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import GenOpsError


class DatadogBodyError(GenOpsError, ValueError):
    """A generated Datadog dashboard or monitor body does not fit the API's models."""


def _client() -> Any:
    try:
        from datadog_api_client import ApiClient, Configuration
    except ImportError:
        raise DatadogBodyError(
            "checking Datadog bodies needs the Datadog API client: pip install 'genops-ai[datadog]'"
        ) from None
    return ApiClient(Configuration())


def _path(parts: list[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(top level)"


def _walk(value: Any, path: list[str | int], what: str) -> None:
    from datadog_api_client.model_utils import ModelComposed, ModelNormal, ModelSimple, UnparsedObject

    if isinstance(value, UnparsedObject):
        raise DatadogBodyError(f"{what} {_path(path)}: matches no Datadog schema: {value._data_store}")
    if isinstance(value, ModelSimple):
        if value._unparsed:
            allowed = ", ".join(sorted(map(str, value.allowed_values)))
            raise DatadogBodyError(f"{what} {_path(path)}: {value.value!r} is not one of: {allowed}")
        return
    if isinstance(value, ModelComposed):
        instances = value._composed_instances
        if not instances:
            raise DatadogBodyError(f"{what} {_path(path)}: matches no {type(value).__name__} schema")
        for instance in instances:
            _walk(instance, path, what)
        return
    if isinstance(value, ModelNormal):
        known = set(value.attribute_map)
        for key, item in value._data_store.items():
            if key not in known:
                raise DatadogBodyError(
                    f"{what} {_path([*path, key])}: unknown field for {type(value).__name__} "
                    f"(known: {', '.join(sorted(value.attribute_map.values()))})"
                )
            _walk(item, [*path, value.attribute_map[key]], what)
        if value._unparsed:
            raise DatadogBodyError(f"{what} {_path(path)}: not understood by the {type(value).__name__} model")
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, [*path, index], what)
    elif isinstance(value, dict):
        for key, item in value.items():
            _walk(item, [*path, key], what)


def _deserialize(body: dict[str, Any], model: type, what: str) -> Any:
    from datadog_api_client.exceptions import OpenApiException

    try:
        result = _client().deserialize(json.dumps(body), (model,), True)
    except (OpenApiException, TypeError, ValueError) as exc:
        raise DatadogBodyError(f"{what}: {exc}") from None
    _walk(result, [], what)
    return result


def validate_dashboard(body: dict[str, Any], name: str = "dashboard") -> Any:
    """The body as a `datadog_api_client.v1.model.dashboard.Dashboard`; DatadogBodyError if it does not fit."""
    from datadog_api_client.v1.model.dashboard import Dashboard

    return _deserialize(body, Dashboard, name)


def validate_monitor(body: dict[str, Any], name: str = "monitor") -> Any:
    """The body as a `datadog_api_client.v1.model.monitor.Monitor`; DatadogBodyError if it does not fit."""
    from datadog_api_client.v1.model.monitor import Monitor

    return _deserialize(body, Monitor, name)
