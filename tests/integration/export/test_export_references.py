"""References the converter resolves through the export over real HTTP: user mentions by display name (one user
lookup per user per run), a draw.io macro linking the document that holds its labels, an image attached to
another page linking that page's file, the attachments macro listing the page's files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tenant_rag.config import CustomerConfig
from tenant_rag.documents import read_page
from tenant_rag.export import ConfluenceCredentials, export_customer
from tenant_rag_devtools.confluence_server import FakeConfluence
from tenant_rag_devtools.confluence_server.sample_files import MEDIA_TYPES, drawio_bytes, png_bytes
from tests.integration.export.conftest import CLOUD_AUTH, CLOUD_CREDENTIALS, FAST, SERVER_CREDENTIALS

ADA = '<ac:link><ri:user ri:account-id="557058:ada" /></ac:link>'
GHOST = '<ac:link><ri:user ri:account-id="557058:ghost" /></ac:link>'


def _user_lookups(fake: FakeConfluence) -> list[str]:
    return [line for line in fake.request_log if "/rest/api/user?" in line]


@pytest.mark.parametrize("flavor", ["cloud", "server"])
def test_mentions_are_exported_with_display_names_looked_up_once_per_run(
    flavor: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    fake = FakeConfluence(flavor=flavor, auth=CLOUD_AUTH if flavor == "cloud" else None, bearer="server-pat")
    credentials: ConfluenceCredentials = CLOUD_CREDENTIALS if flavor == "cloud" else SERVER_CREDENTIALS
    ada = ADA if flavor == "cloud" else '<ac:link><ri:user ri:userkey="8a7f80c2" /></ac:link>'
    fake.add_space("ENG", "Engineering")
    fake.add_user("557058:ada" if flavor == "cloud" else "8a7f80c2", "Ada Lovelace")
    home = fake.add_page("ENG", "Home", f"<p>Owner: {ada}, backup: {GHOST}</p>")
    fake.add_page("ENG", "Runbook", f"<p>Ask {ada} first.</p>", parent_id=home)
    with fake.serve() as url:
        export_customer(config_for(url, ["ENG"], flavor=flavor), tmp_path, credentials=credentials, retry_policy=FAST)
    assert "Owner: @Ada Lovelace, backup: @557058:ghost" in (tmp_path / "exports/ENG/Home.md").read_text()
    assert "Ask @Ada Lovelace first." in (tmp_path / "exports/ENG/Home/Runbook.md").read_text()
    assert len(_user_lookups(fake)) == 2  # Ada once for both pages, the unknown user once


def test_file_references_link_documents_and_other_pages_files(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    fake.add_space("ENG", "Engineering")
    design = fake.add_page(
        "ENG",
        "Design",
        '<ac:structured-macro ac:name="drawio" ac:schema-version="1"><ac:parameter ac:name="diagramName">'
        'payments</ac:parameter><ac:parameter ac:name="diagramDisplayName">Payments flow</ac:parameter>'
        '</ac:structured-macro><ac:structured-macro ac:name="attachments" />',
    )
    fake.attach(design, "payments", drawio_bytes(["Load balancer", "Payment gateway"]), MEDIA_TYPES["drawio"])
    fake.attach(design, "flow.png", png_bytes(), "image/png")
    fake.add_page(
        "ENG",
        "Overview",
        '<p><ac:image><ri:attachment ri:filename="flow.png"><ri:page ri:content-title="Design" /></ri:attachment>'
        "</ac:image></p>",
        parent_id=design,
    )
    stats = export_customer(config_for(served, ["ENG"]), tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    assert stats["attachments_written"] == 1  # the diagram; the PNG has no text
    root = tmp_path / "exports"
    page = (root / "ENG/Design.md").read_text()
    document = f"_attachments/{design}/payments.md"
    assert f"Diagram: [Payments flow]({document})" in page
    assert "Payment gateway" in read_page(root / "ENG" / document, root).body  # the labels the link leads to
    assert f"- [flow.png]({served}/download/attachments/{design}/flow.png" in page
    assert f"- [payments]({document})" in page
    overview = (root / "ENG/Design/Overview.md").read_text()
    assert f"![flow.png]({served}/download/attachments/{design}/flow.png" in overview
