"""YAML for configuration files: parse once, keep the node tree for line numbers.

`parse(text, path)` returns the composed node tree; `construct(node)` turns it into Python
data (YAML floats become `Decimal`, so `limit: 10000.10` stays exact); `node_at(root, loc)`
finds the node for a pydantic error location, so errors can name the line.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import ConfigError

STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Loader(yaml.SafeLoader):
    """SafeLoader whose floats are exact Decimals."""

    def construct_yaml_float(self, node: Node) -> Any:  # type: ignore[override]
        text = str(self.construct_scalar(node)).replace("_", "")  # type: ignore[arg-type]
        try:
            value = Decimal(text)
        except InvalidOperation:
            return super().construct_yaml_float(node)  # .inf, .nan, sexagesimal
        return value if value.is_finite() else super().construct_yaml_float(node)


_Loader.add_constructor("tag:yaml.org,2002:float", _Loader.construct_yaml_float)


def line_of(node: Node) -> int:
    """1-based line where a node starts."""
    return node.start_mark.line + 1


def parse(text: str, path: str) -> Node | None:
    """Compose one YAML document; syntax errors become a ConfigError with file and line."""
    loader = _Loader(text)
    try:
        return loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = f"YAML syntax error: {exc.problem or exc.context}"
        if exc.problem and exc.context:
            started = f" started at line {exc.context_mark.line + 1}" if exc.context_mark else ""
            message += f" ({exc.context}{started})"
        raise ConfigError(message, path=path, line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"YAML error: {exc}", path=path) from None
    finally:
        loader.dispose()


def construct(node: Node) -> Any:
    """Python data for a node tree (after any edits to its scalars)."""
    loader = _Loader("")
    try:
        return loader.construct_document(node)
    finally:
        loader.dispose()


def mapping_get(node: Node, key: str) -> tuple[Node, Node] | None:
    """The (key node, value node) pair of `key` in a mapping node, or None."""
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value == key:
                return k, v
    return None


def node_at(root: Node, loc: Sequence[str | int], *, key: bool = False) -> Node:
    """The deepest node along `loc` (elements that are not in the file, e.g. a missing field,
    are skipped). With `key=True` and a mapping key as the last element, its key node."""
    node = root
    for i, element in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, MappingNode):
            pair = mapping_get(node, str(element))
            if pair is not None:
                node = pair[0] if (key and last) else pair[1]
        elif isinstance(node, SequenceNode) and isinstance(element, int) and 0 <= element < len(node.value):
            node = node.value[element]
    return node


def duplicate_keys(root: Node) -> Iterator[tuple[str, Node, Node]]:
    """(key, first key node, repeated key node) for each key written twice in one mapping."""
    seen_nodes: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, MappingNode):
            first: dict[str, Node] = {}
            for k, v in node.value:
                if isinstance(k, ScalarNode) and k.tag != _MERGE_TAG:
                    if k.value in first:
                        yield k.value, first[k.value], k
                    else:
                        first[k.value] = k
                stack.extend((k, v))
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)


def string_scalars(root: Node) -> Iterator[tuple[tuple[str | int, ...], ScalarNode]]:
    """(path, node) for each string value scalar, once (mapping keys excluded; aliases once)."""
    seen: set[int] = set()
    stack: list[tuple[tuple[str | int, ...], Node]] = [((), root)]
    while stack:
        loc, node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, ScalarNode):
            if node.tag == STR_TAG:
                yield loc, node
        elif isinstance(node, MappingNode):
            stack.extend(((*loc, str(k.value)), v) for k, v in reversed(node.value))
        elif isinstance(node, SequenceNode):
            stack.extend(((*loc, i), v) for i, v in reversed(list(enumerate(node.value))))
