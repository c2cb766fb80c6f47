"""Fixtures for the DAG tests: Airflow's metadata DB warmed once per session, customers on disk, a local
Confluence site with two customers' spaces, and the Airflow connections the operators read (``AIRFLOW_CONN_*``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tenant_rag.config import CustomerConfig
from tenant_rag.customers import CustomerManager
from tests.dags.sample_sites import ACME_PAGES, CONFLUENCE_USER, GLOBEX_PAGES, LocalSite, serving


@pytest.fixture(scope="session")
def airflow_ready() -> None:
    """Migrate the session's SQLite metadata DB (tests/conftest.py) once and create the embedding pool."""
    from tenant_rag_airflow.dag_runner import ensure_airflow_ready

    ensure_airflow_ready()


@pytest.fixture
def write_customer(customers_dir: Path) -> Callable[..., CustomerConfig]:
    """Create ``customers_dir/<customer_id>`` with a config built from keyword overrides."""
    manager = CustomerManager(customers_dir)

    def write(customer_id: str, export: dict[str, Any], **fields: Any) -> CustomerConfig:
        raw = {"customer_id": customer_id, "display_name": customer_id.title(), "retries": 0, "export": export}
        raw.update(fields)
        config = CustomerConfig.model_validate(raw)
        manager.create(config, exist_ok=True)
        return config

    return write


@pytest.fixture
def confluence(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalSite]:
    """A local Confluence Cloud site with acme's (ENG, OPS) and globex's (HR) spaces, served on 127.0.0.1;
    the default Confluence connection (``AIRFLOW_CONN_CONFLUENCE_DEFAULT``) points at it."""
    from tenant_rag_devtools.confluence_server import FakeConfluence

    server = FakeConfluence(flavor="cloud", auth=CONFLUENCE_USER)
    page_ids: dict[str, str] = {}
    for pages in (ACME_PAGES, GLOBEX_PAGES):
        for space, entries in pages.items():
            server.add_space(space, f"{space} space")
            for title, body in entries:
                page_ids[title] = server.add_page(space, title, body)
    with serving(server, page_ids, monkeypatch) as site:
        yield site
