"""In-memory vector store behind the stand-in Pinecone and Weaviate endpoints.

Records live in spaces (``"pinecone"`` or ``"weaviate:<Collection>"``) and namespaces; each
namespace has the dimension of its first vector. Queries rank by cosine similarity. Metadata
filters support Pinecone's operators ``$eq $ne $in $nin $gt $gte $lt $lte $exists $and $or``
(a bare value means ``$eq``).
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass, field
from typing import Any


class VectorError(ValueError):
    """A request the real database would refuse (HTTP 400)."""


@dataclass
class Record:
    id: str
    values: list[float] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    sparse: dict[str, Any] | None = None
    created_ms: int = 0

    def stored_bytes(self) -> int:
        size = len(self.id.encode()) + 4 * len(self.values or ())
        if self.metadata:
            size += len(json.dumps(self.metadata, separators=(",", ":"), default=str).encode())
        return size


@dataclass
class VectorStore:
    """Thread-safe store; ``read_units`` fixes the read units reported per query (else computed:
    one per started GB of the namespace, as Pinecone meters it)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    spaces: dict[tuple[str, str], dict[str, Record]] = field(default_factory=dict)
    dimensions: dict[tuple[str, str], int] = field(default_factory=dict)
    read_units: int | None = None

    def reset(self) -> None:
        with self.lock:
            self.spaces.clear()
            self.dimensions.clear()
            self.read_units = None

    def upsert(self, space: str, namespace: str, records: list[Record]) -> int:
        key = (space, namespace)
        with self.lock:
            for record in records:
                self._check_dimension(key, record.values)
            target = self.spaces.setdefault(key, {})
            for record in records:
                target[record.id] = record
        return len(records)

    def _check_dimension(self, key: tuple[str, str], values: list[float] | None) -> None:
        if not values:
            return
        dim = self.dimensions.setdefault(key, len(values))
        if dim != len(values):
            raise VectorError(f"Vector dimension {len(values)} does not match the dimension of the index {dim}")

    def query(self, space: str, namespace: str, vector: list[float] | None, top_k: int,
              where: Any = None) -> list[tuple[float, Record]]:  # fmt: skip
        key = (space, namespace)
        with self.lock:
            if vector is not None:
                self._check_dimension(key, vector)
            records = [r for r in self.spaces.get(key, {}).values() if matches(r.metadata, where)]
        if vector is None:
            scored = [(0.0, r) for r in records]
        else:
            scored = [(cosine(vector, r.values), r) for r in records if r.values]
            scored.sort(key=lambda pair: (-pair[0], pair[1].id))
        return scored[: max(0, top_k)]

    def fetch(self, space: str, namespace: str, ids: list[str]) -> list[Record]:
        with self.lock:
            found = self.spaces.get((space, namespace), {})
            return [found[i] for i in ids if i in found]

    def delete(self, space: str, namespace: str, ids: list[str] | None = None, where: Any = None,
               everything: bool = False) -> int:  # fmt: skip
        with self.lock:
            target = self.spaces.get((space, namespace), {})
            if everything:
                doomed = list(target)
            elif ids is not None:
                doomed = [i for i in ids if i in target]
            else:
                doomed = [i for i, r in target.items() if matches(r.metadata, where)]
            for i in doomed:
                del target[i]
        return len(doomed)

    def namespaces(self, space: str) -> dict[str, int]:
        with self.lock:
            return {ns: len(recs) for (sp, ns), recs in self.spaces.items() if sp == space}

    def dimension(self, space: str) -> int:
        with self.lock:
            return next((d for (sp, _), d in self.dimensions.items() if sp == space), 0)

    def query_read_units(self, space: str, namespace: str) -> int:
        if self.read_units is not None:
            return self.read_units
        with self.lock:
            size = sum(r.stored_bytes() for r in self.spaces.get((space, namespace), {}).values())
        return max(1, math.ceil(size / 1_000_000_000))


def cosine(a: list[float], b: list[float] | None) -> float:
    if not b or len(a) != len(b):
        return 0.0
    dot = sum(x * y for x, y in zip(a, b))
    na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


_COMPARE = {
    "$gt": lambda v, x: v is not None and v > x,
    "$gte": lambda v, x: v is not None and v >= x,
    "$lt": lambda v, x: v is not None and v < x,
    "$lte": lambda v, x: v is not None and v <= x,
}


def matches(metadata: dict[str, Any], where: Any) -> bool:
    """Whether ``metadata`` passes a Pinecone-style filter (``None``: everything passes)."""
    if not where:
        return True
    if not isinstance(where, dict):
        raise VectorError(f"filter must be an object, got {where!r}")
    for key, cond in where.items():
        if key == "$and":
            if not all(matches(metadata, c) for c in cond):
                return False
        elif key == "$or":
            if not any(matches(metadata, c) for c in cond):
                return False
        elif not _field_matches(metadata, key, cond):
            return False
    return True


def _field_matches(metadata: dict[str, Any], key: str, cond: Any) -> bool:
    value = metadata.get(key)
    if not isinstance(cond, dict):
        return value == cond
    for op, operand in cond.items():
        if op == "$eq":
            ok = value == operand
        elif op == "$ne":
            ok = value != operand
        elif op == "$in":
            ok = value in operand
        elif op == "$nin":
            ok = value not in operand
        elif op == "$exists":
            ok = (key in metadata) == bool(operand)
        elif op in _COMPARE:
            ok = _COMPARE[op](value, operand)
        else:
            raise VectorError(f"unsupported filter operator {op!r}")
        if not ok:
            return False
    return True
