"""Where things live: project root, runtime folder (.run/), customers folder (``tenant_rag.settings``)."""

from __future__ import annotations

from pathlib import Path


def project_root() -> Path:
    """The checkout root (``TENANT_RAG_HOME`` overrides)."""
    from tenant_rag.settings import settings

    return settings().project_root()


def run_dir() -> Path:
    """The one ignored folder for runtime state: Airflow home, pgdata, logs (``TENANT_RAG_RUN_DIR``)."""
    from tenant_rag.settings import settings

    return settings().resolved_run_dir()


def data_dir() -> Path:
    from tenant_rag.settings import settings

    return settings().resolved_data_dir()


def customer_folder(customer_id: str, base: Path | str | None = None) -> Path:
    """``<base>/<customer_id>`` (``base`` defaults to ``customers_dir()``), after validating the id: a bad id
    raises ``InvalidCustomerIdError`` before any path is built from it, so nothing is ever created outside."""
    from tenant_rag.naming import validate_customer_id

    return Path(base or customers_dir()) / validate_customer_id(customer_id)


def admin_key_file() -> Path:
    """Where ``set-admin-key`` keeps the API's admin key hash unless configured: ``<run dir>/api/admin_key.json``."""
    return run_dir() / "api" / "admin_key.json"


def customers_dir() -> Path:
    """Folder holding one ``<customer_id>/`` per customer (``TENANT_RAG_CUSTOMERS_DIR`` overrides)."""
    from tenant_rag.settings import settings

    return settings().resolved_customers_dir()
