"""Content of the local Confluence site the DAG tests export from: two customers with unrelated pages, so a
question about one must never surface the other's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
    server: Any  # tenant_rag.confluence_server.FakeConfluence, running
    url: str
    page_ids: dict[str, str]  # title -> page id
