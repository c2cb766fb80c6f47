"""End to end: a PDF attached to a Confluence page is exported over real HTTP, indexed by the real pipeline into
PostgreSQL, and its text answers a query, with the page it belongs to in the metadata."""

from __future__ import annotations

from pathlib import Path

from tenant_rag.export import export_customer
from tenant_rag.manager import CustomerRAGManager
from tenant_rag_devtools.confluence_server import FakeConfluence
from tenant_rag_devtools.confluence_server.sample_files import MEDIA_TYPES, pdf_bytes
from tests.integration.export.conftest import CLOUD_AUTH, CLOUD_CREDENTIALS, FAST
from tests.integration.export.conftest import make_config as confluence_config
from tests.integration.rag.rag_core_support import make_config, make_customer, offline_embedder


def test_an_attached_pdf_is_answerable_by_a_query(pg_url: str, tmp_path: Path) -> None:
    fake = FakeConfluence(flavor="cloud", auth=CLOUD_AUTH)
    fake.add_space("OPS", "Operations")
    page = fake.add_page("OPS", "Incident handbook", "<p>How we run incidents.</p>")
    fake.add_page("OPS", "Coffee machine", "<p>Descale the coffee machine every month.</p>")
    pdf = pdf_bytes(["Escalation policy: page the duty officer via code QX-9182 after fifteen minutes."])
    attachment = fake.attach(page, "escalation.pdf", pdf, MEDIA_TYPES["pdf"])
    config = make_config("attachcust")
    root = make_customer(tmp_path / "customers", config)
    with fake.serve() as url:
        stats = export_customer(confluence_config(url, ["OPS"]), root, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    assert stats["attachments_written"] == 1
    manager = CustomerRAGManager(config, customer_dir=root, database_url=pg_url, embedder=offline_embedder())
    manager.build_index(root / "exports")
    for mode in ("lexical", "hybrid"):
        top = manager.query("who do we page via code QX-9182", top_k=1, mode=mode).documents[0]
        assert "duty officer" in top.page_content, mode
        assert top.metadata["page_id"] == attachment and top.metadata["title"] == "Incident handbook > escalation.pdf"
        assert top.metadata["breadcrumbs"] == ["Incident handbook"]
        assert top.metadata["url"].startswith(f"{url}/download/attachments/{page}/escalation.pdf")
