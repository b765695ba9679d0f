"""Loading `genops.yaml`: `${ENV}` interpolation, precedence, and errors that say where.

Precedence, highest first: argument (`GenOps.init(service_name=...)`) > environment
(`ENV_SETTINGS`) > file > default. The file is `config_path`, else `$GENOPS_CONFIG`, else none.

    genops:
      service_name: "customer-support-chatbot"
      providers:
        openai:
          api_key: "${OPENAI_API_KEY}"          # unset -> error naming the variable and line
      storage:
        url: "${LEDGER_URL:-sqlite:///ledger.db}"  # default when unset or empty

Every problem found (YAML syntax, unset variables, unknown keys, bad values, in the file, the
environment or the arguments) is reported in one `ConfigError`, one problem per line, as
`FILE:LINE: genops.policies[1].enforcement: ...`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, get_args
from urllib.parse import unquote

from pydantic import ValidationError

from . import _yaml_lines as yl
from ._config_errors import Problem, allowed, describe, did_you_mean, field_name
from .config import ExporterConfig, Settings
from .errors import ConfigError

Loc = tuple[str | int, ...]
CONFIG_PATH_VAR = "GENOPS_CONFIG"
ROOT_KEY = "genops"


# --- environment -----------------------------------------------------------------------------

Apply = Callable[[dict[str, Any], str], list[Loc]]  # sets the value in the raw settings; returns paths set


def _set(*path: str) -> Apply:
    def apply(raw: dict[str, Any], value: str) -> list[Loc]:
        node = raw
        for key in path[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                return []  # the file's value is wrong; validation reports it
        node[path[-1]] = value
        return [path]

    return apply


def _key_values(raw: dict[str, Any], value: str) -> list[Loc]:
    """`OTEL_RESOURCE_ATTRIBUTES=k=v,k2=v2` (values percent-decoded), merged over the file's."""
    parsed = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        key, sep, val = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected key=value pairs separated by commas, got {item!r}")
        parsed[key.strip()] = unquote(val.strip())
    current = raw.get("resource_attributes")
    raw["resource_attributes"] = {**(current if isinstance(current, dict) else {}), **parsed}
    return [("resource_attributes", key) for key in parsed]


_EXPORTER_TYPES = [str(t) for t in get_args(ExporterConfig.model_fields["type"].annotation)]


def _select_exporters(raw: dict[str, Any], value: str) -> list[Loc]:
    """`GENOPS_EXPORTER=otlp` (or `otlp,console`): use these exporters; keep the file's settings for them."""
    exporters = raw.get("exporters")
    configured = exporters if isinstance(exporters, list) else []
    chosen = []
    for kind in filter(None, (part.strip().lower() for part in value.split(","))):
        if kind not in _EXPORTER_TYPES:
            hint = did_you_mean(kind, _EXPORTER_TYPES)
            raise ValueError(f"{kind!r} is not allowed; allowed values: {allowed(_EXPORTER_TYPES)}{hint}")
        same = [e for e in configured if isinstance(e, dict) and e.get("type") == kind]
        chosen.append(same[0] if same else {"type": kind})
    raw["exporters"] = chosen
    return [("exporters",)]


def _otlp(field: str, values: Mapping[str, str] | None = None) -> Apply:
    """Set `field` on every OTLP exporter (adding one when no exporter is configured)."""

    def apply(raw: dict[str, Any], value: str) -> list[Loc]:
        if values is not None:
            if value.strip().lower() not in values:
                raise ValueError(f"{value!r} is not allowed; allowed values: {allowed(values)}")
            value = values[value.strip().lower()]
        exporters = raw.get("exporters")
        if not exporters:
            raw["exporters"] = [{"type": "otlp", field: value}]
            return [("exporters",)]
        if not isinstance(exporters, list):
            return []
        targets = [i for i, e in enumerate(exporters) if isinstance(e, dict) and e.get("type") == "otlp"]
        for i in targets:
            exporters[i] = {**exporters[i], field: value}
        return [("exporters", i, field) for i in targets]

    return apply


@dataclass(frozen=True)
class EnvSetting:
    """One environment variable and the setting it overrides."""

    var: str
    setting: str  # the settings path, for documentation
    apply: Apply


# Applied in this order (a later entry wins over an earlier one for the same setting).
ENV_SETTINGS: tuple[EnvSetting, ...] = (
    EnvSetting("OTEL_SERVICE_NAME", "service_name", _set("service_name")),
    EnvSetting("GENOPS_SERVICE_NAME", "service_name", _set("service_name")),
    EnvSetting("GENOPS_ENVIRONMENT", "environment", _set("environment")),
    EnvSetting("GENOPS_TEAM", "attribution.team", _set("attribution", "team")),
    EnvSetting("GENOPS_PROJECT", "attribution.project", _set("attribution", "project")),
    EnvSetting("GENOPS_STORAGE_URL", "storage.url", _set("storage", "url")),
    EnvSetting("OTEL_RESOURCE_ATTRIBUTES", "resource_attributes", _key_values),
    EnvSetting("GENOPS_EXPORTER", "exporters[*].type", _select_exporters),
    EnvSetting("OTEL_EXPORTER_OTLP_ENDPOINT", "exporters[type=otlp].endpoint", _otlp("endpoint")),
    EnvSetting(
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "exporters[type=otlp].protocol",
        _otlp("protocol", {"grpc": "grpc", "http/protobuf": "http"}),
    ),
)


# --- ${VAR} interpolation --------------------------------------------------------------------

_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")  # escaped `$${`, `${...}`, unclosed `${`
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _interpolate(root: Any, path: str, problems: list[ConfigError]) -> None:
    """Replace `${VAR}` / `${VAR:-default}` in every string value of the node tree, in place."""
    for loc, node in yl.string_scalars(root):
        if "${" in node.value:
            node.value = _REFERENCE.sub(partial(_substitute, node, field_name(loc), path, problems), node.value)


def _substitute(node: Any, field: str, path: str, problems: list[ConfigError], match: re.Match[str]) -> str:
    """The replacement for one `${...}` in a scalar; problems are collected, not raised."""
    if match.group(0) == "$${":
        return "${"
    line = yl.line_of(node)
    if node.style == "|":  # literal block: the reference's own line
        line += 1 + node.value[: match.start()].count("\n")
    body = match.group(1)
    name, default_sep, default = (body or "").partition(":-")
    if body is None or not _NAME.match(name):
        shown = match.group(0) if body is not None else "${"
        message = f"{field}: bad reference {shown!r}; write ${{NAME}} or ${{NAME:-default}}"
        problems.append(ConfigError(message, path=path, line=line, field=field))
        return ""
    value = os.environ.get(name)
    if value is None or (default_sep and value == ""):
        if default_sep:
            return default
        message = f"{field}: environment variable {name} is not set (write ${{{name}:-default}} for a default)"
        problems.append(ConfigError(message, path=path, line=line, field=field))
        return ""
    return value


# --- the file --------------------------------------------------------------------------------


def _read_file(path: Path, shown: str, problems: list[ConfigError], from_env: bool) -> tuple[Any, dict[str, Any]]:
    """The `genops:` node and its data, after interpolation. Fatal problems raise."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        where = f" (the path is from {CONFIG_PATH_VAR})" if from_env else ""
        raise ConfigError(f"config file not found{where}", path=shown) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file: {exc}", path=shown) from None
    root = yl.parse(text, shown)
    if root is None:
        return None, {}
    if not isinstance(root, yl.MappingNode):
        raise ConfigError(f"expected a mapping with a top-level '{ROOT_KEY}:' key", path=shown, line=yl.line_of(root))
    for key, first, again in yl.duplicate_keys(root):
        message = f"duplicate key {key!r} (first written at line {yl.line_of(first)})"
        problems.append(ConfigError(message, path=shown, line=yl.line_of(again)))
    for key_node, _ in root.value:
        key = str(key_node.value)
        if key != ROOT_KEY and not key.startswith("x-"):  # `x-...`: free keys for YAML anchors
            hint = did_you_mean(key, [ROOT_KEY]) or f" (settings go under '{ROOT_KEY}:')"
            problems.append(ConfigError(f"unknown top-level key {key!r}{hint}", path=shown, line=yl.line_of(key_node)))
    pair = yl.mapping_get(root, ROOT_KEY)
    if pair is None:
        problems.append(ConfigError(f"missing top-level '{ROOT_KEY}:' key", path=shown, line=1))
        return None, {}
    node = pair[1]
    _interpolate(node, shown, problems)
    data = yl.construct(node)
    if data is None:
        return node, {}
    if not isinstance(data, dict):
        problems.append(ConfigError(f"{ROOT_KEY}: expected a mapping of settings", path=shown, line=yl.line_of(node)))
        return node, {}
    return node, data


# --- loading ---------------------------------------------------------------------------------


def load_settings(config_path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Settings from `config_path` (or `$GENOPS_CONFIG`), the environment and `overrides`.

    `overrides` are `Settings` fields (`service_name="x"`, `storage={"url": ...}`,
    `policies=[{...}]`); mappings merge into the file's section, lists replace it, `None` is
    ignored. Raises `ConfigError` listing every problem with its file, line and field.
    """
    from_env = config_path is None and bool(os.environ.get(CONFIG_PATH_VAR))
    path = Path(config_path) if config_path is not None else Path(os.environ[CONFIG_PATH_VAR]) if from_env else None
    shown = str(path) if path is not None else None
    problems: list[ConfigError] = []
    node, raw = _read_file(path, shown, problems, from_env) if path is not None and shown else (None, {})
    sources: dict[Loc, str] = {}

    for env in ENV_SETTINGS:
        value = os.environ.get(env.var)
        if not value:
            continue
        try:
            sources.update(dict.fromkeys(env.apply(raw, value), f"environment variable {env.var}"))
        except ValueError as exc:
            problems.append(ConfigError(f"environment variable {env.var}: {exc}", field=f"{ROOT_KEY}.{env.setting}"))
    _merge(raw, dict(overrides or {}), (), sources)

    if "source_path" in raw:  # a field of Settings, but not a setting
        raw.pop("source_path")
        problems.append(_locate(Problem(("source_path",), "unknown key 'source_path'", key=True), node, shown, sources))
    settings = None
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        seen = {p.field for p in problems}
        problems += [
            p for p in (_locate(q, node, shown, sources) for q in describe(Settings, exc)) if p.field not in seen
        ]
    if problems or settings is None:
        raise _combine(problems)
    return settings.model_copy(update={"source_path": path}) if path else settings


def _merge(base: dict[str, Any], top: dict[str, Any], prefix: Loc, sources: dict[Loc, str]) -> None:
    """Deep-merge argument values into `base`; mappings merge, anything else replaces."""
    for key, value in top.items():
        if value is None and not prefix:
            continue
        loc = (*prefix, key)
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            base[key] = dict(base[key])
            _merge(base[key], dict(value), loc, sources)
        else:
            base[key] = value
            sources[loc] = f"argument {loc[0]!r}"


def _locate(problem: Problem, node: Any, path: str | None, sources: dict[Loc, str]) -> ConfigError:
    """A ConfigError for a problem: file and line, or the variable/argument it came from."""
    field = field_name(problem.loc)
    for n in range(len(problem.loc), 0, -1):
        source = sources.get(problem.loc[:n])
        if source is not None:
            return ConfigError(f"{field}: {problem.message} (from {source})", field=field)
    if node is not None and path:
        line = yl.line_of(yl.node_at(node, problem.loc, key=problem.key))
        return ConfigError(f"{field}: {problem.message}", path=path, line=line, field=field)
    return ConfigError(f"{field}: {problem.message}", field=field)


def _combine(problems: list[ConfigError]) -> ConfigError:
    """One ConfigError carrying all problems (file problems first, by line)."""
    problems = sorted(problems, key=lambda p: (p.line is None, p.line or 0))
    if len(problems) == 1:
        return problems[0]
    first = problems[0]
    combined = ConfigError("\n".join(str(p) for p in problems), field=first.field, errors=problems)
    combined.path, combined.line = first.path, first.line
    return combined
