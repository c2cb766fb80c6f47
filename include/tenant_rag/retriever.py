"""A LangChain retriever over one customer's index: parent ``Document``s with title, URL, heading path and score."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from tenant_rag.config import CustomerConfig
from tenant_rag.permissions import Identity
from tenant_rag.query import CustomerQueryManager


class TenantRetriever(BaseRetriever):
    """Runs ``CustomerQueryManager.query`` for one customer (as that customer's database role)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    query_manager: CustomerQueryManager
    config: CustomerConfig
    top_k: int | None = None
    mode: str | None = None
    space_keys: list[str] | None = None
    identity: Identity | None = None  # the end user (``rag.permissions: enforce``)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        result = self.query_manager.query(
            self.config,
            query,
            top_k=kwargs.get("top_k", self.top_k),
            mode=kwargs.get("mode", self.mode),
            space_keys=kwargs.get("space_keys", self.space_keys),
            identity=kwargs.get("identity", self.identity),
        )
        return result.documents
