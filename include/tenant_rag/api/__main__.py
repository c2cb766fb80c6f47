"""``python -m tenant_rag.api``: serve the API with uvicorn on TENANT_RAG_API_HOST / TENANT_RAG_API_PORT."""

from __future__ import annotations

from tenant_rag.api.app import serve

serve()
