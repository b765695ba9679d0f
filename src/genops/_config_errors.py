"""Readable configuration errors from pydantic's: field paths as written in `genops.yaml`,
the allowed values of literal fields, and "did you mean" for misspellings."""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

_SECRET = re.compile(r"key|secret|token|password|header|url|dsn", re.IGNORECASE)


@dataclass
class Problem:
    """One validation problem. `loc` is the path as written in the file (no union tags)."""

    loc: tuple[str | int, ...]
    message: str
    key: bool = False  # the problem is the mapping key itself (point at the key's line)


def field_name(loc: Iterable[str | int], root: str = "genops") -> str:
    """`('policies', 1, 'enforcement')` -> `genops.policies[1].enforcement`."""
    out = root
    for element in loc:
        out += f"[{element}]" if isinstance(element, int) else f".{element}"
    return out


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """` did you mean 'x'?` for the closest candidate (case-insensitive), or ``."""
    by_lower = {c.lower(): c for c in candidates}
    match = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return f"; did you mean {by_lower[match[0]]!r}?" if match else ""


def allowed(values: Iterable[Any]) -> str:
    return ", ".join(str(v) for v in values)


def _unwrap(t: Any) -> Any:
    """Strip `Annotated[...]` and `X | None`."""
    while True:
        if get_origin(t) is Annotated:
            t = get_args(t)[0]
            continue
        if get_origin(t) in (Union, types.UnionType):
            members = [a for a in get_args(t) if a is not type(None)]
            if len(members) == 1:
                t = members[0]
                continue
        return t


def _is_model(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, BaseModel)


@dataclass
class _Walk:
    loc: list[str | int]
    annotation: Any  # the type at the end of the path (Any when unknown)
    parent: type[BaseModel] | None  # the model holding the last key
    union_member: bool = False  # pydantic reported one member of a union
    dict_key: bool = False  # the error is about a mapping key


def _walk(model: type[BaseModel], loc: tuple[Any, ...]) -> _Walk:
    """Follow a pydantic error location through the schema, dropping union tags."""
    w = _Walk([], model, None)
    t: Any = model
    i = 0
    while i < len(loc):
        element, t = loc[i], _unwrap(t)
        origin = get_origin(t)
        if _is_model(t) and isinstance(element, str):
            w.parent, w.loc = t, [*w.loc, element]
            field = _field(t, element)
            t = field.annotation if field is not None else Any
        elif origin in (list, tuple, set, frozenset) and isinstance(element, int):
            w.loc.append(element)
            t = get_args(t)[0] if get_args(t) else Any
        elif origin is dict:
            key_type, value_type = get_args(t) or (Any, Any)
            w.loc.append(element)
            if i + 1 < len(loc) and loc[i + 1] == "[key]":
                w.dict_key, t, i = True, key_type, i + 1
            else:
                t = value_type
        elif origin in (Union, types.UnionType):
            w.union_member = True  # `element` is a tag naming the member
            tagged = [m for m in get_args(t) if _is_model(m) and element in _literal_values(m, "type")]
            t = tagged[0] if tagged else Any
        else:
            w.loc.append(element)
            t = Any
        i += 1
    w.annotation = _unwrap(t)
    return w


def _field(model: type[BaseModel], key: str) -> Any:
    """The field a YAML key names (its alias, e.g. `from`, or its name)."""
    return model.model_fields.get(key) or next((f for f in model.model_fields.values() if f.alias == key), None)


def _literal_values(model: type[BaseModel], field: str) -> tuple[Any, ...]:
    info = model.model_fields.get(field)
    annotation = _unwrap(info.annotation) if info is not None else None
    return get_args(annotation) if get_origin(annotation) is Literal else ()


def _quoted(text: str) -> list[str]:
    return re.findall(r"'([^']*)'", text)


def _shown(loc: list[str | int], value: Any) -> str:
    if any(isinstance(e, str) and _SECRET.search(e) for e in loc):
        return ""
    if isinstance(value, (dict, list)):
        return f" (got a {'mapping' if isinstance(value, dict) else 'list'})"
    text = repr(value)
    return f" (got {text[:60] + '...' if len(text) > 60 else text})"


def describe(model: type[BaseModel], exc: ValidationError) -> list[Problem]:
    """One Problem per distinct field; union-member errors on one field are merged."""
    problems: dict[tuple[Any, ...], Problem] = {}
    for err in exc.errors(include_url=False):
        w = _walk(model, tuple(err["loc"]))
        loc, kind, value, ctx = tuple(w.loc), err["type"], err.get("input"), err.get("ctx") or {}
        if kind == "extra_forbidden":
            names = [f.alias or n for n, f in w.parent.model_fields.items()] if w.parent else []  # as written
            names = [n for n in names if n != "source_path"]
            hint = did_you_mean(str(loc[-1]), names) or f" (allowed keys: {allowed(names)})"
            problem = Problem(loc, f"unknown key {loc[-1]!r}{hint}", key=True)
        elif kind in ("literal_error", "enum"):
            values = [str(v) for v in get_args(w.annotation)] if get_origin(w.annotation) is Literal else []
            values = values or _quoted(str(ctx.get("expected", "")))
            hint = did_you_mean(str(value), values)
            if w.dict_key:
                problem = Problem(loc, f"unknown key {value!r}; allowed keys: {allowed(values)}{hint}", key=True)
            else:
                problem = Problem(loc, f"value {value!r} is not allowed; allowed values: {allowed(values)}{hint}")
        elif kind == "union_tag_invalid":
            tags, discriminator = _quoted(ctx.get("expected_tags", "")), _quoted(ctx.get("discriminator", "'type'"))[0]
            hint = did_you_mean(str(ctx.get("tag")), tags)
            loc = (*loc, discriminator)
            problem = Problem(loc, f"unknown {discriminator} {ctx.get('tag')!r}; allowed: {allowed(tags)}{hint}")
        elif kind == "union_tag_not_found":
            tags = _union_tags(w.annotation)
            discriminator = _quoted(ctx.get("discriminator", "'type'"))[0]
            problem = Problem(loc, f"missing {discriminator!r} (one of: {allowed(tags)})")
        elif kind == "missing":
            problem = Problem(loc, "required field is missing")
        else:
            message = str(err["msg"]).removeprefix("Value error, ")
            problem = Problem(loc, message if kind == "value_error" else f"{message}{_shown(w.loc, value)}")
        earlier = problems.get(loc)
        if earlier is not None and w.union_member:
            base, got, shown = earlier.message.partition(" (got")
            other = problem.message.partition(" (got")[0].removeprefix("Input should be ")
            earlier.message = f"{base} or {other}{got}{shown}"
        elif earlier is None:
            problems[loc] = problem
    return list(problems.values())


def _union_tags(annotation: Any) -> list[str]:
    members = get_args(annotation) if get_origin(annotation) in (Union, types.UnionType) else ()
    return [str(v) for m in members if _is_model(m) for v in _literal_values(m, "type")]
