"""Where things live: project root, runtime folder (.run/), customers folder."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def project_root() -> Path:
    """The checkout root (``TENANT_RAG_HOME`` overrides)."""
    return Path(os.environ.get("TENANT_RAG_HOME") or _PACKAGE_ROOT)


def run_dir() -> Path:
    """The one ignored folder for runtime state: Airflow home, pgdata, logs (``TENANT_RAG_RUN_DIR``)."""
    return Path(os.environ.get("TENANT_RAG_RUN_DIR") or project_root() / ".run")


def data_dir() -> Path:
    return Path(os.environ.get("TENANT_RAG_DATA_DIR") or project_root() / "data")


def customer_folder(customer_id: str, base: Path | str | None = None) -> Path:
    """``<base>/<customer_id>`` (``base`` defaults to ``customers_dir()``), after validating the id: a bad id
    raises ``InvalidCustomerIdError`` before any path is built from it, so nothing is ever created outside."""
    from tenant_rag.naming import validate_customer_id

    return Path(base or customers_dir()) / validate_customer_id(customer_id)


def customers_dir() -> Path:
    """Folder holding one ``<customer_id>/`` per customer (``TENANT_RAG_CUSTOMERS_DIR`` overrides)."""
    return Path(os.environ.get("TENANT_RAG_CUSTOMERS_DIR") or data_dir() / "customers")
