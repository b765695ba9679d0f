"""`RetrievalQA` for current LangChain.

`langchain.chains.RetrievalQA` (the case study's LangChain 0.1) is not in `langchain-core`; this
is the same "stuff" question-answering chain written in LCEL, with the two calls the case study
makes: `RetrievalQA.from_chain_type(llm=..., retriever=..., callbacks=[...])` and
`qa_chain.run(question)`. Callbacks given to `from_chain_type` are passed to every run (they
reach the retriever and the model, as LangChain's inheritable callbacks do).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.language_models import BaseLanguageModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableLambda, RunnablePassthrough

PROMPT = ChatPromptTemplate.from_template(
    "Answer the question using only the context below. "
    "If the context does not contain the answer, say that you don't know.\n\n"
    "Context:\n{context}\n\nQuestion: {question}\nAnswer:"
)


def _stuff(documents: Sequence[Document]) -> str:
    return "\n\n".join(d.page_content for d in documents)


class RetrievalQA:
    """Retrieve documents for a question, stuff them into one prompt, answer with the LLM."""

    def __init__(self, chain: Runnable[str, str], callbacks: list[BaseCallbackHandler] | None = None) -> None:
        self.chain = chain
        self.callbacks = list(callbacks or [])

    @classmethod
    def from_chain_type(
        cls,
        llm: BaseLanguageModel[Any],
        chain_type: str = "stuff",
        retriever: BaseRetriever | None = None,
        callbacks: list[BaseCallbackHandler] | None = None,
    ) -> RetrievalQA:
        if chain_type != "stuff":
            raise ValueError(f"only chain_type='stuff' is provided here, got {chain_type!r}")
        if retriever is None:
            raise ValueError("RetrievalQA needs a retriever")
        chain = (
            {"context": retriever | RunnableLambda(_stuff), "question": RunnablePassthrough()}
            | PROMPT
            | llm
            | StrOutputParser()
        )
        return cls(chain, callbacks)

    def run(self, question: str) -> str:
        """Answer `question` (the legacy `Chain.run`)."""
        return self.chain.invoke(question, config={"callbacks": self.callbacks})

    async def arun(self, question: str) -> str:
        return await self.chain.ainvoke(question, config={"callbacks": self.callbacks})
