"""The docs index Team B queries.

In production this is Weaviate (`llama_index.vector_stores.weaviate.WeaviateVectorStore`), filled
by a separate ingestion job. Here it is a small in-memory vector store that stores the text with
the vectors (as Weaviate does, so `VectorStoreIndex.from_vector_store` accepts it), and `ingest()`
is the ingestion job: it embeds the documents with Cohere (one governed `embed` call).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import BaseNode
from llama_index.core.vector_stores.types import BasePydanticVectorStore, VectorStoreQuery, VectorStoreQueryResult
from pydantic import PrivateAttr

DOCS = [
    "Expense reports are filed in Workday under Finance > Expenses within 30 days of purchase.",
    "VPN access: install the corporate client from the IT portal and sign in with single sign-on.",
    "Production deploys need two approvals and run from the release pipeline on weekdays only.",
    "New hires get a laptop on day one; request extra hardware through the IT service desk.",
]


class InMemoryTextVectorStore(BasePydanticVectorStore):
    """Nodes with their text and embeddings, in memory; cosine similarity search."""

    stores_text: bool = True
    _nodes: dict[str, BaseNode] = PrivateAttr(default_factory=dict)

    @property
    def client(self) -> Any:
        return None

    def add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        for node in nodes:
            self._nodes[node.node_id] = node
        return [node.node_id for node in nodes]

    def delete(self, ref_doc_id: str, **kwargs: Any) -> None:
        for node_id in [i for i, n in self._nodes.items() if n.ref_doc_id == ref_doc_id]:
            del self._nodes[node_id]

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        scored = sorted(
            ((_cosine(query.query_embedding or [], node.get_embedding()), node) for node in self._nodes.values()),
            key=lambda pair: pair[0],
            reverse=True,
        )[: query.similarity_top_k]
        return VectorStoreQueryResult(
            nodes=[node for _, node in scored],
            similarities=[score for score, _ in scored],
            ids=[node.node_id for _, node in scored],
        )


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


vector_store = InMemoryTextVectorStore()


def ingest(embed_model: BaseEmbedding, texts: Sequence[str] = DOCS) -> None:
    """Embed `texts` and add them to `vector_store` (the ingestion job)."""
    VectorStoreIndex.from_documents(
        [Document(text=t) for t in texts],
        storage_context=StorageContext.from_defaults(vector_store=vector_store),
        embed_model=embed_model,
    )
