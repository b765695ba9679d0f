"""Weaviate gRPC stand-in (service ``weaviate.v1.Weaviate``): ``Search`` (near_vector,
near_text, fetch_objects, with filters and limit), ``BatchObjects``, ``BatchDelete`` and the
health check, built on the protobuf classes shipped with ``weaviate-client`` (so it needs that
package and ``grpcio``). It shares the HTTP stand-in's vector store.

near_text is served with the stand-in's deterministic text vectors (``unit_vector``), as a
``text2vec`` module would be. Filters: Equal, NotEqual, comparisons, And, Or on one property;
other operators are refused with UNIMPLEMENTED rather than ignored.
"""

from __future__ import annotations

import struct
import uuid as uuid_module
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from google.protobuf import json_format
from weaviate.proto.v1 import (
    base_pb2,
    batch_delete_pb2,
    batch_pb2,
    health_weaviate_pb2,
    properties_pb2,
    search_get_pb2,
    weaviate_pb2_grpc,
)

from ._common import unit_vector
from ._vector_store import Record, VectorError, VectorStore
from .weaviate_wire import space

DEFAULT_LIMIT = 10
_F = base_pb2.Filters
_COMPARE = {
    _F.OPERATOR_EQUAL: "$eq",
    _F.OPERATOR_NOT_EQUAL: "$ne",
    _F.OPERATOR_GREATER_THAN: "$gt",
    _F.OPERATOR_GREATER_THAN_EQUAL: "$gte",
    _F.OPERATOR_LESS_THAN: "$lt",
    _F.OPERATOR_LESS_THAN_EQUAL: "$lte",
}


_STATUS = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    500: grpc.StatusCode.INTERNAL,
    503: grpc.StatusCode.UNAVAILABLE,
}


class Unsupported(Exception):
    pass


def _floats(raw: bytes) -> list[float]:
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


def _vector_of(message: Any) -> list[float] | None:
    """A vector from any of the encodings the client uses (vector_bytes, vectors, vector)."""
    if getattr(message, "vector_bytes", b""):
        return _floats(message.vector_bytes)
    vectors = getattr(message, "vectors", None)
    if vectors:
        return _floats(vectors[0].vector_bytes)
    if getattr(message, "vector", None):
        return list(message.vector)
    return None


def _filter(f: Any) -> dict[str, Any] | None:
    if f.operator in (_F.OPERATOR_AND, _F.OPERATOR_OR):
        key = "$and" if f.operator == _F.OPERATOR_AND else "$or"
        return {key: [_filter(sub) for sub in f.filters]}
    op = _COMPARE.get(f.operator)
    if op is None:
        raise Unsupported(f"filter operator {_F.Operator.Name(f.operator)} is not supported by the stand-in")
    prop = f.target.property if f.HasField("target") else (f.on[0] if f.on else "")
    kind = f.WhichOneof("test_value")
    value = getattr(f, kind) if kind in ("value_text", "value_int", "value_boolean", "value_number") else None
    if kind is None or value is None:
        raise Unsupported("only text, int, boolean and number filter values are supported by the stand-in")
    return {prop: {op: value}}


def _value(v: Any) -> Any:
    if isinstance(v, bool):
        return properties_pb2.Value(bool_value=v)
    if isinstance(v, int):
        return properties_pb2.Value(int_value=v)
    if isinstance(v, float):
        return properties_pb2.Value(number_value=v)
    if isinstance(v, str):
        return properties_pb2.Value(text_value=v)
    return properties_pb2.Value(text_value=str(v))


class WeaviateServicer(weaviate_pb2_grpc.WeaviateServicer):
    def __init__(self, store: VectorStore, record: Any = None) -> None:
        self.store = store
        self.record = record  # called with (method, request) for every RPC, for tests

    def _seen(self, method: str, request: Any, context: Any) -> None:
        status = self.record(method, request) if self.record is not None else None
        if status is not None:
            code = _STATUS.get(status, grpc.StatusCode.INTERNAL)
            context.abort(code, f"stand-in Weaviate: injected failure ({status})")

    def Search(self, request: Any, context: Any) -> Any:
        self._seen("Search", request, context)
        try:
            where = _filter(request.filters) if request.HasField("filters") else None
            vector = None
            if request.HasField("near_vector"):
                vector = _vector_of(request.near_vector)
            elif request.HasField("near_text"):
                dims = self.store.dimension(space(request.collection)) or 8
                vector = list(unit_vector(" ".join(request.near_text.query), dims))
            hits = self.store.query(space(request.collection), request.tenant, vector,
                                    request.limit or DEFAULT_LIMIT, where)  # fmt: skip
        except Unsupported as exc:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, str(exc))
        except VectorError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        want_vector = request.metadata.vector
        results = []
        for score, rec in hits:
            meta = search_get_pb2.MetadataResult(
                id=rec.id, id_as_bytes=uuid_module.UUID(rec.id).bytes,
                creation_time_unix=rec.created_ms, creation_time_unix_present=bool(rec.created_ms),
            )  # fmt: skip
            if vector is not None:
                meta.distance, meta.distance_present = 1.0 - score, True
                meta.certainty, meta.certainty_present = (1.0 + score) / 2.0, True
            if want_vector and rec.values:
                meta.vector_bytes = struct.pack(f"<{len(rec.values)}f", *rec.values)
                meta.vectors.append(base_pb2.Vectors(name="default", vector_bytes=meta.vector_bytes))
            props = properties_pb2.Properties(fields={k: _value(v) for k, v in rec.metadata.items()})
            results.append(search_get_pb2.SearchResult(
                metadata=meta,
                properties=search_get_pb2.PropertiesResult(non_ref_props=props, target_collection=request.collection),
            ))  # fmt: skip
        return search_get_pb2.SearchReply(took=0.001, results=results)

    def BatchObjects(self, request: Any, context: Any) -> Any:
        self._seen("BatchObjects", request, context)
        errors = []
        for i, obj in enumerate(request.objects):
            props = json_format.MessageToDict(obj.properties.non_ref_properties) if obj.HasField("properties") else {}
            record = Record(id=obj.uuid or str(uuid_module.uuid4()), values=_vector_of(obj), metadata=props)
            try:
                self.store.upsert(space(obj.collection), obj.tenant, [record])
            except VectorError as exc:
                errors.append(batch_pb2.BatchObjectsReply.BatchError(index=i, error=str(exc)))
        return batch_pb2.BatchObjectsReply(took=0.001, errors=errors)

    def BatchDelete(self, request: Any, context: Any) -> Any:
        self._seen("BatchDelete", request, context)
        try:
            where = _filter(request.filters) if request.HasField("filters") else None
        except Unsupported as exc:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, str(exc))
        matched = self.store.query(space(request.collection), request.tenant, None, 1 << 30, where)
        if not request.dry_run:
            self.store.delete(space(request.collection), request.tenant, ids=[r.id for _, r in matched])
        n = len(matched)
        return batch_delete_pb2.BatchDeleteReply(
            took=0.001, failed=0, matches=n, successful=0 if request.dry_run else n
        )


def _health(request: Any, context: Any) -> Any:
    return health_weaviate_pb2.WeaviateHealthCheckResponse(
        status=health_weaviate_pb2.WeaviateHealthCheckResponse.SERVING
    )


class WeaviateGrpcServer:
    """The gRPC half of the Weaviate stand-in, on its own port of ``host``."""

    def __init__(self, store: VectorStore, host: str = "127.0.0.1", record: Any = None) -> None:
        self.server = grpc.server(ThreadPoolExecutor(max_workers=4, thread_name_prefix="genops-standin-grpc"))
        weaviate_pb2_grpc.add_WeaviateServicer_to_server(WeaviateServicer(store, record), self.server)
        health = grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
            "Check": grpc.unary_unary_rpc_method_handler(
                _health,
                request_deserializer=health_weaviate_pb2.WeaviateHealthCheckRequest.FromString,
                response_serializer=health_weaviate_pb2.WeaviateHealthCheckResponse.SerializeToString,
            )
        })  # fmt: skip
        self.server.add_generic_rpc_handlers((health,))
        self.port = self.server.add_insecure_port(f"{host}:0")
        self.server.start()

    def stop(self) -> None:
        self.server.stop(grace=None).wait(5)
