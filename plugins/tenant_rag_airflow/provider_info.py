"""Provider info of tenantrag's Airflow integration: the ``confluence`` and ``google_genai`` connection types.

Airflow finds connection types through the ``apache_airflow_provider`` entry point of installed distributions.
``plugins/tenant_rag_airflow-1.0.0.dist-info`` declares that entry point; it is found because ``plugins/`` is on
``sys.path`` in every process that runs this code (``PYTHONPATH`` in the Makefile, pytest and docker-compose, and
Airflow adds its plugins folder itself), so nothing needs installing. Airflow then offers both types in the
Connections form with the field labels below, and imports a hook only when a connection of its type is used.

Every value here is plain data (no hook import): providers are discovered in every Airflow process.
"""

from __future__ import annotations

from typing import Any

PACKAGE_NAME = "tenant-rag-airflow"

CONFLUENCE_CONNECTION: dict[str, Any] = {
    "connection-type": "confluence",
    "hook-class-name": "tenant_rag_airflow.hooks.confluence.ConfluenceHook",
    "hook-name": "Confluence (tenantrag)",
    "ui-field-behaviour": {
        "hidden-fields": ["schema", "port"],
        "relabeling": {
            "host": "Base URL",
            "login": "E-mail (Cloud; empty for a Server PAT)",
            "password": "API token (Cloud) or personal access token (Server/DC)",
        },
        "placeholders": {
            "host": "https://acme.atlassian.net/wiki",
            "login": "bot@acme.example",
            "extra": '{"auth": "basic"}',
        },
    },
}

GEMINI_CONNECTION: dict[str, Any] = {
    "connection-type": "google_genai",
    "hook-class-name": "tenant_rag_airflow.hooks.gemini.GeminiHook",
    "hook-name": "Google Gemini API (embeddings)",
    "ui-field-behaviour": {
        "hidden-fields": ["schema", "port", "login"],
        "relabeling": {"password": "API key", "host": "Endpoint (optional)"},
        "placeholders": {"host": "https://generativelanguage.googleapis.com"},
    },
}


def get_provider_info() -> dict[str, Any]:
    """The dictionary Airflow's ``ProvidersManager`` validates against its ``provider_info`` schema."""
    return {
        "package-name": PACKAGE_NAME,
        "name": "tenantrag",
        "description": "Connection types of tenantrag: Confluence sites and the Gemini embedding API.",
        "connection-types": [CONFLUENCE_CONNECTION, GEMINI_CONNECTION],
    }
