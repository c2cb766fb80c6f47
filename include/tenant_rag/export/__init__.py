"""Confluence export: REST client (Cloud v2 + CQL, Server/DC v1), storage format -> Markdown, incremental runs.

Entry point: :func:`export_customer`. No Airflow here; the Airflow hook resolves the Connection into
:class:`ConfluenceCredentials` and calls it.
"""

from __future__ import annotations

from tenant_rag.export.errors import (
    ConfluenceAuthError,
    ConfluenceForbiddenError,
    ConfluenceHTTPError,
    ExportError,
    PageUnreadableError,
    RetryBudgetExhaustedError,
    SpaceNotFoundError,
)
from tenant_rag.export.exporter import export_customer
from tenant_rag.export.http import RetryPolicy
from tenant_rag.export.models import ConfluenceCredentials
from tenant_rag.export.storage_markdown import ConversionContext, storage_to_markdown

__all__ = [
    "ConfluenceAuthError",
    "ConfluenceCredentials",
    "ConfluenceForbiddenError",
    "ConfluenceHTTPError",
    "ConversionContext",
    "ExportError",
    "PageUnreadableError",
    "RetryBudgetExhaustedError",
    "RetryPolicy",
    "SpaceNotFoundError",
    "export_customer",
    "storage_to_markdown",
]
