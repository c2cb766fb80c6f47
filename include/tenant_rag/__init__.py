"""tenantrag: multi-tenant RAG indexing for Confluence (domain library, no Airflow imports)."""

from __future__ import annotations

__version__ = "0.1.0"
