# app/main_callbacks.py — the case study's Step 1.3, "After (with GenOps - Option 2: LangChain
# Callbacks)". Import changes for current LangChain (see README.md); everything else is as written.
from fastapi import FastAPI, Request
from langchain_openai import ChatOpenAI  # was: from langchain.chat_models import ChatOpenAI
from langchain_openai import OpenAIEmbeddings  # was: from langchain.embeddings import OpenAIEmbeddings
from app.vectorstore import LocalIndex  # was: from langchain.vectorstores import Pinecone
from app.retrieval_qa import RetrievalQA  # was: from langchain.chains import RetrievalQA
from app.models import ChatRequest  # (not shown in the case study)
from genops import GenOps
from genops.providers.langchain import GenOpsCallbackHandler  # LangChain integration

GenOps.init(config_path="genops.yaml")

app = FastAPI()

llm = ChatOpenAI(model="gpt-4-turbo", temperature=0)
# check_embedding_ctx_length=False: send text instead of tiktoken ids (tiktoken downloads its
# tables on first use; this example runs offline).
embeddings = OpenAIEmbeddings(model="text-embedding-3-large", check_embedding_ctx_length=False)
vectorstore = LocalIndex.from_existing_index("support-docs", embeddings)  # was: Pinecone.from_existing_index(...)


@app.post("/chat")
async def chat(request: ChatRequest, http_request: Request):
    customer_id = http_request.headers.get("x-customer-id", "unknown")

    # Create GenOps callback handler with attribution
    callback = GenOpsCallbackHandler(
        team="support",
        project="chatbot",
        customer_id=customer_id
    )

    qa_chain = RetrievalQA.from_chain_type(
        llm=llm,
        retriever=vectorstore.as_retriever(),
        callbacks=[callback]  # Add GenOps callback
    )

    response = qa_chain.run(request.question)
    return {"answer": response}
