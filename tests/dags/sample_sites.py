"""Content of the local Confluence site the DAG tests export from: two customers with unrelated pages, so a
question about one must never surface the other's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

CONFLUENCE_USER = ("bot@example.com", "api-token-123")

ACME_PAGES = {
    "ENG": [
        (
            "Deploying to production",
            "<h1>Deploying to production</h1><p>Every deploy goes through the release train. To roll back a bad "
            "production deployment run <code>kubectl rollout undo deployment/web</code> and page the release "
            "captain.</p>",
        ),
        (
            "Code review checklist",
            "<h1>Code review checklist</h1><ul><li>Tests pass</li><li>Migrations are reversible</li></ul>",
        ),
    ],
    "OPS": [
        (
            "Incident severity levels",
            "<h1>Severity levels</h1><p>SEV1 means customers cannot log in; the on-call engineer opens a "
            "bridge within five minutes.</p>",
        ),
    ],
}
GLOBEX_PAGES = {
    "HR": [
        (
            "Travel expenses",
            "<h1>Travel expenses</h1><p>The daily meal allowance when travelling is 45 euros; hotel receipts "
            "are required for reimbursement.</p>",
        ),
        (
            "Holiday policy",
            "<h1>Holiday policy</h1><p>Employees receive 28 days of paid holiday per year.</p>",
        ),
    ],
}


@dataclass
class LocalSite:
    server: Any  # tenant_rag_devtools.confluence_server.FakeConfluence, running
    url: str
    page_ids: dict[str, str]  # title -> page id


@contextmanager
def serving(server: Any, page_ids: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalSite]:
    """Serve a FakeConfluence on 127.0.0.1 as the default Confluence connection (``AIRFLOW_CONN_CONFLUENCE_DEFAULT``)
    with its own user, for as long as the block runs."""
    login, password = server.auth
    with server.serve() as url:
        conn = {"conn_type": "confluence", "host": url, "login": login, "password": password}
        monkeypatch.setenv("AIRFLOW_CONN_CONFLUENCE_DEFAULT", json.dumps(conn))
        yield LocalSite(server=server, url=url, page_ids=page_ids)
