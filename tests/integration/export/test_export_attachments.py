"""Attachments over real HTTP: every supported type becomes a document tied to its page, unchanged files are not
downloaded again, limits and corrupt files are reported without stopping the page or the run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tenant_rag.config import CustomerConfig
from tenant_rag.documents import ExportedPage, iter_page_files, read_page
from tenant_rag.export import ConfluenceCredentials, export_customer
from tenant_rag.export.layout import safe_name
from tenant_rag_devtools.confluence_server import FakeConfluence
from tenant_rag_devtools.confluence_server.sample_files import (
    MEDIA_TYPES,
    docx_bytes,
    drawio_bytes,
    pdf_bytes,
    png_bytes,
    pptx_bytes,
    xlsx_bytes,
)
from tests.integration.export.conftest import CLOUD_CREDENTIALS, FAST

FILES = {
    "report.pdf": (pdf_bytes(["Quarterly revenue grew by twelve percent"]), "pdf", "twelve percent"),
    "runbook.docx": (docx_bytes("Runbook", ["Restart the flux capacitor nightly"]), "docx", "flux capacitor"),
    "roadmap.pptx": (pptx_bytes([("Roadmap", "Launch the zebra feature")]), "pptx", "zebra feature"),
    "budget.xlsx": (xlsx_bytes({"Budget": [["item", "cost"], ["quantum servers", 1200]]}), "xlsx", "quantum servers"),
    "hosts.csv": (b"host,role\nalpha-01,primary database\n", "csv", "primary database"),
    "notes.txt": (b"Remember the walrus protocol.\n", "txt", "walrus protocol"),
    "guide.md": (b"# Guide\n\nUse the *ochre* button.\n", "md", "ochre"),
    "architecture.drawio": (drawio_bytes(["Load balancer", "Payment gateway"]), "drawio", "Payment gateway"),
}


def _downloads(fake: FakeConfluence) -> list[str]:
    return [line for line in fake.request_log if "/download/attachments/" in line]


def _attachment_docs(customer_dir: Path) -> dict[str, ExportedPage]:
    root = customer_dir / "exports"
    pages = [read_page(path, root) for path in iter_page_files(root)]
    return {page.title: page for page in pages if page.extra.get("attachment_of")}


def test_every_supported_type_becomes_a_document_tied_to_its_page(
    site: tuple[FakeConfluence, ConfluenceCredentials, str], config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    fake, credentials, flavor = site
    fake.add_space("ENG", "Engineering")
    home = fake.add_page("ENG", "Home", "<p>home</p>")
    specs = fake.add_page("ENG", "Specs", "<p>specs</p>", parent_id=home)
    ids = {name: fake.attach(specs, name, data, MEDIA_TYPES[kind]) for name, (data, kind, _) in FILES.items()}
    with fake.serve() as url:
        stats = export_customer(
            config_for(url, ["ENG"], flavor=flavor), tmp_path, credentials=credentials, retry_policy=FAST
        )
    assert stats["attachments_listed"] == len(FILES) and stats["attachments_written"] == len(FILES)
    assert stats["attachments_failed"] == [] and stats["pages_written"] == 2
    docs = _attachment_docs(tmp_path)
    assert sorted(docs) == sorted(f"Specs > {name}" for name in FILES)
    for name, (_, kind, needle) in FILES.items():
        doc = docs[f"Specs > {name}"]
        assert needle in doc.body, name
        assert doc.page_id == ids[name] and doc.parent_id == specs and doc.breadcrumbs == ("Home", "Specs")
        assert doc.version == 1 and doc.extra["media_type"] == MEDIA_TYPES[kind]
        assert doc.rel_path == f"ENG/_attachments/{specs}/{safe_name(name)}.md"  # guide.md -> guide.md_.md
        assert doc.url.startswith(f"{url}/download/attachments/{specs}/")
    manifest = json.loads((tmp_path / "cache/export_manifest.json").read_text())
    assert manifest["attachments"]["ENG"][ids["report.pdf"]]["path"] == f"ENG/_attachments/{specs}/report.pdf.md"


def test_unchanged_attachments_are_not_downloaded_again_and_changes_follow_versions(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    fake.add_space("ENG", "Engineering")
    page = fake.add_page("ENG", "Specs", "<p>specs</p>")
    kept = fake.attach(page, "kept.txt", b"steady text", "text/plain")
    edited = fake.attach(page, "edited.txt", b"first draft", "text/plain")
    dropped = fake.attach(page, "dropped.txt", b"soon gone", "text/plain")
    config = config_for(served, ["ENG"])
    export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    assert len(_downloads(fake)) == 3

    fake.request_log.clear()
    again = export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    assert _downloads(fake) == [] and again["attachments_unchanged"] == 3 and again["attachments_downloaded"] == 0

    assert fake.attach(page, "edited.txt", b"second draft", "text/plain") == edited  # a new version
    fake.delete_attachment(dropped)
    fake.update_page(page, title="Specifications")  # the page is renamed: front matter follows, no download
    fake.request_log.clear()
    stats = export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    assert [line.split("?")[0].rsplit("/", 1)[-1] for line in _downloads(fake)] == ["edited.txt"]
    assert (stats["attachments_downloaded"], stats["attachments_deleted"], stats["attachments_unchanged"]) == (1, 1, 1)
    docs = _attachment_docs(tmp_path)
    assert sorted(docs) == ["Specifications > edited.txt", "Specifications > kept.txt"]
    assert "second draft" in docs["Specifications > edited.txt"].body
    assert docs["Specifications > edited.txt"].version == 2
    assert docs["Specifications > kept.txt"].breadcrumbs == ("Specifications",)
    assert docs["Specifications > kept.txt"].page_id == kept

    fake.delete_page(page)  # the page goes: so do its attachments' documents
    gone = export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    assert gone["pages_deleted"] == 1 and _attachment_docs(tmp_path) == {}
    assert not (tmp_path / "exports/ENG/_attachments").exists()


def test_limits_unsupported_types_and_corrupt_files_are_reported_and_isolated(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    fake.add_space("ENG", "Engineering")
    page = fake.add_page("ENG", "Specs", "<p>the page itself</p>")
    good = fake.attach(page, "good.txt", b"readable words", "text/plain")
    big = fake.attach(page, "big.txt", b"x" * 300_000, "text/plain")
    corrupt = fake.attach(page, "broken.pdf", b"%PDF-1.4 this is not really a pdf", "application/pdf")
    image = fake.attach(page, "photo.png", png_bytes(), "image/png")
    sheet = fake.attach(page, "numbers.xlsx", xlsx_bytes({"S": [["a", 1]]}), MEDIA_TYPES["xlsx"])
    config = config_for(served, ["ENG"], attachments={"max_size_mb": 0.25, "types": ["pdf", "txt"]})
    stats = export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    reasons = {f["attachment_id"]: f["reason"] for f in stats["attachments_failed"]}
    assert reasons == {big: "too_large", corrupt: "unreadable", image: "unsupported_type", sheet: "unsupported_type"}
    assert stats["attachments_failed_total"] == 4 and stats["errors"] == [] and stats["pages_written"] == 1
    assert [doc.page_id for doc in _attachment_docs(tmp_path).values()] == [good]
    assert (tmp_path / "exports/ENG/Specs.md").is_file()
    # the oversized file was judged by its listed size: never downloaded; the corrupt one is not fetched again
    assert not any("big.txt" in line for line in _downloads(fake))
    fake.request_log.clear()
    again = export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    assert _downloads(fake) == [] and again["attachments_failed_total"] == 4


def test_a_failing_download_keeps_the_last_good_document_and_disabling_removes_them(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    fake.add_space("ENG", "Engineering")
    page = fake.add_page("ENG", "Specs", "<p>specs</p>")
    att = fake.attach(page, "notes.txt", b"version one", "text/plain")
    config = config_for(served, ["ENG"])
    export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    fake.attach(page, "notes.txt", b"version two", "text/plain")
    fake.break_page(page, 500)  # every request naming the page fails, its download too
    stats = export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    assert [(f["attachment_id"], f["reason"]) for f in stats["attachments_failed"]] == [(att, "download_error")]
    assert "version one" in _attachment_docs(tmp_path)["Specs > notes.txt"].body
    fake.fix_page(page)
    healed = export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    assert healed["attachments_downloaded"] == 1
    assert "version two" in _attachment_docs(tmp_path)["Specs > notes.txt"].body
    off = export_customer(
        config_for(served, ["ENG"], attachments={"enabled": False}),
        tmp_path,
        credentials=CLOUD_CREDENTIALS,
        retry_policy=FAST,
    )
    assert off["attachments_listed"] == 0 and _attachment_docs(tmp_path) == {}
