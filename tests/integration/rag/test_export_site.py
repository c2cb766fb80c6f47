"""Issue 14's done-when, end to end over real HTTP and the real PostgreSQL.

A local Cloud site of 500 pages (5% restricted, three folders, 32 files of every readable type, footer comments,
the site and its user on Europe/Berlin) answering 20% of requests with a fault: the export completes; every
readable page, file and comment is indexed and found by a lexical query for its own token; every restricted page
is recorded; a repeat run with nothing changed downloads no page body and no file (counted on the server); an edit
outside the incremental window is picked up by the next incremental run, and an edit inside it is found by CQL read
in the user's zone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tenant_rag.config import CustomerConfig
from tenant_rag.export import RetryPolicy, export_customer
from tenant_rag.manager import CustomerRAGManager
from tenant_rag_devtools.confluence_server import FakeConfluence
from tenant_rag_devtools.confluence_server.sample_site import BUILT_AT, FILE_TYPES, SampleSite, build_site, page_storage
from tests.integration.export.conftest import CLOUD_AUTH, CLOUD_CREDENTIALS
from tests.integration.export.conftest import make_config as confluence_config
from tests.integration.rag.rag_core_support import make_config, make_customer, offline_embedder

# slow answers (0.4 s) outlast the client's timeout (0.3 s): every kind of fault costs a retry
POLICY = RetryPolicy(timeout_seconds=0.3, max_retries=10, backoff_base=0.005, backoff_max=0.05)
WINDOW = (BUILT_AT + timedelta(days=10), BUILT_AT + timedelta(days=10, hours=2))
BATCH = 25


@pytest.fixture
def site() -> Iterator[tuple[FakeConfluence, SampleSite, str]]:
    fake = FakeConfluence(flavor="cloud", auth=CLOUD_AUTH, site_timezone="Europe/Berlin", seed=14)
    built = build_site(fake, 500)
    fake.set_faults(rate=0.2, retry_after=0.01, slow_seconds=0.4)
    with fake.serve() as url:
        yield fake, built, url


def _batches(pairs: Iterable[tuple[str, str]]) -> Iterator[list[tuple[str, str]]]:
    items = sorted(pairs)
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


def _assert_answerable(manager: CustomerRAGManager, expected: dict[str, str]) -> None:
    """``expected``: token -> the document id (page or file) whose text must answer a query for it. Tokens are
    asked 25 at a time: each is in exactly one document, so the top 25 are exactly those documents."""
    for batch in _batches(expected.items()):
        documents = manager.query(" ".join(t for t, _ in batch), top_k=len(batch), mode="lexical").documents
        found = {(t, d.metadata["page_id"]) for d in documents for t, _ in batch if t in d.page_content}
        assert found == set(batch), sorted(set(batch) - found)


def _assert_unanswerable(manager: CustomerRAGManager, tokens: list[str]) -> None:
    for batch in _batches((t, t) for t in tokens):
        documents = manager.query(" ".join(t for t, _ in batch), top_k=len(batch), mode="lexical").documents
        assert not [t for t, _ in batch for d in documents if t in d.page_content]


def test_a_real_sized_site_with_faults_exports_indexes_and_stays_incremental(
    site: tuple[FakeConfluence, SampleSite, str], pg_url: str, tmp_path: Path
) -> None:
    fake, built, url = site
    assert len(built.restricted) == 25 and len(built.folders) == 3 and len(built.comment_tokens) >= 40
    assert {name.rsplit(".", 1)[1] for _, name, _ in built.file_tokens.values()} == set(FILE_TYPES)
    rag = make_config("sitecust")
    root = make_customer(tmp_path / "customers", rag)
    config: CustomerConfig = confluence_config(url, ["OPS"], customer="sitecust", include_comments=True)

    def export(window: tuple[datetime, datetime] | None = None) -> dict[str, Any]:
        return export_customer(config, root, credentials=CLOUD_CREDENTIALS, retry_policy=POLICY, window=window)

    # 1. the full export completes under faults; restricted pages are recorded, nothing else fails
    full = export()
    assert full["errors"] == [] and full["attachments_failed_total"] == 0
    assert full["pages_written"] == len(built.readable_pages) == 475
    assert full["attachments_written"] == len(built.file_tokens) == 32
    assert full["retries"] > 0 and all(fake.faults.injected[kind] > 0 for kind in ("429", "500", "slow", "drop"))
    forbidden = {(r["page_id"], r["status"], r["reason"], r["action"]) for r in full["unreadable"]}
    assert forbidden == {(page_id, 403, "forbidden", "removed") for page_id in built.restricted}
    manifest = json.loads((root / "cache/export_manifest.json").read_text(encoding="utf-8"))
    assert {record["page_id"] for record in manifest["unreadable"]["OPS"]} == set(built.restricted)
    assert list((root / "exports/OPS/Runbooks").glob("*.md")) and list(
        (root / "exports/OPS/Runbooks/Archive").glob("*.md")
    )

    # 2. every readable page, file and comment answers a query for its token; restricted pages do not exist
    manager = CustomerRAGManager(rag, customer_dir=root, database_url=pg_url, embedder=offline_embedder())
    built_index = manager.build_index(root / "exports")
    assert built_index["errors"] == [] and built_index["pages_total"] == 475 + 32
    _assert_answerable(manager, {token: page_id for page_id, token in built.readable_pages.items()})
    _assert_answerable(manager, {token: file_id for file_id, (_, _, token) in built.file_tokens.items()})
    _assert_answerable(manager, {token: page_id for page_id, token in built.comment_tokens.items()})
    _assert_unanswerable(manager, [built.page_tokens[page_id] for page_id in built.restricted])
    in_folder = manager.query("pgtk0007", top_k=1, mode="lexical").documents[0]  # page 7 is in Runbooks > Archive
    assert in_folder.metadata["breadcrumbs"] == ["Runbooks", "Archive"]
    pdf = next(file_id for file_id, (_, name, _) in built.file_tokens.items() if name.endswith(".pdf"))
    page_id, name, token = built.file_tokens[pdf]
    top = manager.query(token, top_k=1, mode="lexical").documents[0]
    assert top.metadata["url"].startswith(f"{url}/download/attachments/{page_id}/{name}")

    # 3. a repeat run with nothing changed fetches no page body and no file (counted by the server)
    fake.traffic.clear()
    slow_before = fake.faults.injected["slow"]
    repeat = export()
    traffic, slow = fake.traffic, fake.faults.injected["slow"] - slow_before
    assert traffic.count("page", "200") == 0 and traffic.count("download", "200") == 0, traffic.by_kind()
    assert traffic.count("children", "200") == 0  # no comments or labels either
    # restricted pages are asked again and refused (twice when a slow 403 outlasted the client's timeout)
    assert len(built.restricted) <= traffic.count("page", "403") <= len(built.restricted) + slow
    assert repeat["pages_fetched"] == 0 and repeat["attachments_downloaded"] == 0 and repeat["errors"] == []
    assert repeat["retries"] > 0  # the faults were still on
    again = manager.update_index(root / "exports")
    assert again["embedding_calls"] == 0 and again["pages_unchanged"] == 475 + 32

    # 4. an edit outside the window and one inside it (found by CQL in the user's zone) reach the index
    readable = sorted(built.readable_pages, key=lambda p: (len(p), p))
    outside, inside = readable[100], readable[200]
    old_token = built.page_tokens[outside]
    fake.update_page(outside, storage=page_storage(100, "pgtkedit1"), modified_at=BUILT_AT + timedelta(days=2))
    fake.update_page(inside, storage=page_storage(200, "pgtkedit2"), modified_at=WINDOW[1] - timedelta(minutes=30))
    fake.traffic.clear()
    slow_before = fake.faults.injected["slow"]
    incremental = export(window=WINDOW)
    slow = fake.faults.injected["slow"] - slow_before
    assert incremental["cql_timezone"] == "Europe/Berlin" and incremental["cql_timezone_source"] == "site"
    assert incremental["pages_fetched"] == 2 and incremental["pages_outside_window"] == 1
    # the two edited pages; a page read answered after the client's timeout (a slow fault) is asked again
    assert 2 <= fake.traffic.count("page", "200") <= 2 + slow and fake.traffic.count("download", "200") == 0
    update = manager.update_index(root / "exports")
    assert update["pages_updated"] == 2 and update["errors"] == []
    _assert_answerable(manager, {"pgtkedit1": outside, "pgtkedit2": inside})
    _assert_unanswerable(manager, [old_token])
