# search/views.py — the case study's Step 2.3 ("After"). Changes for current LlamaIndex are
# marked "was:" (see README.md); everything else is as written.
import os

from django.http import JsonResponse
from search.llm import Anthropic  # was: from llama_index.llms import Anthropic (llama_index.llms.anthropic's, fixed for anthropic 2.x)
from llama_index.embeddings.cohere import CohereEmbedding  # was: from llama_index.embeddings import CohereEmbedding
from llama_index.core import VectorStoreIndex, set_global_handler  # was: from llama_index import VectorStoreIndex, ServiceContext, set_global_handler
from genops import GenOps

from search.vector_store import vector_store  # the case study's `vector_store` (Weaviate there, in memory here)

# Initialize GenOps once (in Django apps.py or settings.py)
GenOps.init(config_path="genops.yaml")

# Set LlamaIndex to use GenOps handler
set_global_handler("genops")


def search(request):
    query = request.GET.get('q')
    user_id = request.user.id  # Django user

    # GenOps automatically tracks through LlamaIndex handler
    with GenOps.track(
        operation="docs_search",
        team="knowledge",
        project="docs-search",
        user_id=user_id
    ):
        llm = Anthropic(model="claude-opus-4-0")  # was: "claude-opus-4" (llama-index-llms-anthropic needs a model id it knows)
        embed_model = CohereEmbedding(
            model_name="embed-english-v3.0",
            # llama-index-embeddings-cohere reads neither COHERE_API_KEY nor CO_API_URL itself.
            api_key=os.environ["COHERE_API_KEY"], base_url=os.environ.get("CO_API_URL"),
        )

        # was: service_context = ServiceContext.from_defaults(llm=llm, embed_model=embed_model)
        #      index = VectorStoreIndex.from_vector_store(vector_store, service_context=service_context)
        #      query_engine = index.as_query_engine()
        # ServiceContext is gone: the models are passed where they are used (or set globally on
        # llama_index.core.Settings, which is process-wide and so not per request).
        index = VectorStoreIndex.from_vector_store(vector_store, embed_model=embed_model)

        query_engine = index.as_query_engine(llm=llm)
        response = query_engine.query(query)

    return JsonResponse({"answer": str(response)})
