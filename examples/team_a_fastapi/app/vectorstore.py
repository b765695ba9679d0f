"""The support-docs index, in memory.

The case study reads an existing Pinecone index (`Pinecone.from_existing_index("support-docs",
embeddings)`); in production that is `langchain_pinecone.PineconeVectorStore.from_existing_index`.
This example keeps the same call shape with LangChain's `InMemoryVectorStore`, filled (and so
embedded, through the governed OpenAI SDK) when the app starts.
"""

from __future__ import annotations

from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import InMemoryVectorStore

INDEXES = {
    "support-docs": [
        (
            "To reset your password, open Settings > Security and choose 'Reset password'. "
            "A reset link is emailed to you and expires after 30 minutes."
        ),
        (
            "Invoices are available under Billing > History. Enterprise customers can request "
            "consolidated monthly invoices from their account manager."
        ),
        "Two-factor authentication can be enabled under Settings > Security with any TOTP app.",
        "The API rate limit is 1000 requests per minute per workspace; contact support to raise it.",
    ],
}


class LocalIndex:
    """`from_existing_index(name, embeddings)` for an index that lives in this process."""

    @staticmethod
    def from_existing_index(index_name: str, embedding: Embeddings) -> InMemoryVectorStore:
        if index_name not in INDEXES:
            raise KeyError(f"no index named {index_name!r}; known: {sorted(INDEXES)}")
        return InMemoryVectorStore.from_texts(INDEXES[index_name], embedding, metadatas=None)
