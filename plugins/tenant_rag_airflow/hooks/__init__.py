"""Hooks over Airflow Connections (Confluence, the vector-store database, the embedding API key).

Import the concrete hook modules directly; this package module stays light so DAG parsing never pulls in the
postgres provider or an HTTP client.
"""

from __future__ import annotations
