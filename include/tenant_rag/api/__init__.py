"""The query, status and index-management HTTP API (FastAPI).

``tenant_rag.api.app.create_app(settings)`` builds the application; ``python -m tenant_rag serve-api`` (or
``python -m tenant_rag.api``) serves it with uvicorn, and the Airflow plugin ``tenant_rag_airflow.api_plugin``
mounts it under ``/tenant-rag`` in the Airflow API server. Nothing is imported here so the CLI stays light.
"""

from __future__ import annotations
