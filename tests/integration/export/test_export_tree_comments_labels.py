"""Content real sites have beyond page bodies: Cloud folders in the tree, footer comments (when enabled), and labels
beyond the first embedded page."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tenant_rag.config import CustomerConfig
from tenant_rag.documents import read_page
from tenant_rag.export import export_customer
from tenant_rag_devtools.confluence_server import FakeConfluence
from tests.integration.export.conftest import CLOUD_AUTH, CLOUD_CREDENTIALS, FAST, SERVER_CREDENTIALS, fetched_page_ids


def test_folders_give_the_real_tree_in_paths_and_breadcrumbs(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    fake.add_space("ENG", "Engineering")
    home = fake.add_page("ENG", "Home", "<p>home</p>")
    specs = fake.add_folder("ENG", "Specs")
    drafts = fake.add_folder("ENG", "Drafts", parent_id=specs)
    guides = fake.add_folder("ENG", "Guides", parent_id=home)
    api = fake.add_page("ENG", "API", "<p>api</p>", parent_id=specs)
    fake.add_page("ENG", "Idea", "<p>idea</p>", parent_id=drafts)
    fake.add_page("ENG", "Deploy", "<p>deploy</p>", parent_id=guides)
    config = config_for(served, ["ENG"])
    stats = export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    root = tmp_path / "exports"
    expected = {
        "ENG/Specs/API.md": ("Specs",),
        "ENG/Specs/Drafts/Idea.md": ("Specs", "Drafts"),
        "ENG/Home/Guides/Deploy.md": ("Home", "Guides"),
    }
    for rel, crumbs in expected.items():
        assert read_page(root / rel, root).breadcrumbs == crumbs, rel
    assert read_page(root / "ENG/Specs/API.md", root).parent_id == specs
    assert stats["pages_written"] == 4 and not (root / "ENG/Specs.md").exists()  # folders are no documents
    folder_reads = [line for line in fake.request_log if "/api/v2/folders/" in line]
    assert len(folder_reads) == 3  # each folder read once

    with fake.site.lock:
        fake.site.folders[specs].title = "Specifications"
    fake.request_log.clear()
    moved = export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    assert fetched_page_ids(fake) == [] and moved["pages_moved"] == 2
    page = read_page(root / "ENG/Specifications/API.md", root)
    assert page.page_id == api and page.breadcrumbs == ("Specifications",)
    assert not (root / "ENG/Specs").exists()


@pytest.mark.parametrize("flavor", ["cloud", "server"])
def test_footer_comments_are_indexed_with_the_page_only_when_enabled(
    flavor: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    fake = FakeConfluence(flavor=flavor, auth=CLOUD_AUTH if flavor == "cloud" else None, bearer="server-pat")
    credentials = CLOUD_CREDENTIALS if flavor == "cloud" else SERVER_CREDENTIALS
    fake.add_space("ENG", "Engineering")
    fake.add_user("u-1", "Ada Lovelace")
    fake.add_user("u-2", "Alan Turing")
    page = fake.add_page("ENG", "Design", "<p>the design</p>")
    fake.add_comment(page, "<p>Consider the <strong>turbo</strong> encabulator.</p>", author_id="u-1")
    fake.add_comment(page, "<p>inline remark</p>", author_id="u-2", location="inline")
    file = tmp_path / "exports/ENG/Design.md"
    with fake.serve() as url:
        off = config_for(url, ["ENG"], flavor=flavor)
        export_customer(off, tmp_path, credentials=credentials, retry_policy=FAST)
        assert "encabulator" not in file.read_text() and not any("comment" in line for line in fake.request_log)

        on = config_for(url, ["ENG"], flavor=flavor, include_comments=True)
        export_customer(on, tmp_path, credentials=credentials, retry_policy=FAST)  # the page is fetched again
        body = read_page(file, tmp_path / "exports").body
        assert "## Comments" in body and "**Ada Lovelace**" in body and "the **turbo** encabulator" in body
        assert "inline remark" not in body  # footer comments only

        fake.request_log.clear()
        assert export_customer(on, tmp_path, credentials=credentials, retry_policy=FAST)["pages_fetched"] == 0
        fake.add_comment(page, "<p>Agreed, ship it.</p>", author_id="u-2")  # the page's version does not change
        again = export_customer(on, tmp_path, credentials=credentials, retry_policy=FAST)
        assert again["pages_fetched"] == 1 and "Agreed, ship it." in file.read_text()
        assert "**Alan Turing**" in file.read_text()

        export_customer(off, tmp_path, credentials=credentials, retry_policy=FAST)  # turned off: comments go
        assert "## Comments" not in file.read_text()


@pytest.mark.parametrize("flavor", ["cloud", "server"])
def test_labels_beyond_the_first_embedded_page_are_kept(
    flavor: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    fake = FakeConfluence(flavor=flavor, auth=CLOUD_AUTH if flavor == "cloud" else None, bearer="server-pat")
    credentials = CLOUD_CREDENTIALS if flavor == "cloud" else SERVER_CREDENTIALS
    fake.site.label_page_size = 3
    fake.add_space("ENG", "Engineering")
    labels = [f"label-{n:02d}" for n in range(8)]
    fake.add_page("ENG", "Tagged", "<p>tagged</p>", labels=labels)
    with fake.serve() as url:
        config = config_for(url, ["ENG"], flavor=flavor)
        export_customer(config, tmp_path, credentials=credentials, retry_policy=FAST)
    assert read_page(tmp_path / "exports/ENG/Tagged.md", tmp_path / "exports").labels == tuple(labels)
    label_pages = [line for line in fake.request_log if "/label" in line.split("?")[0]]
    assert len(label_pages) == 3  # 8 labels, 3 a page: the first page is embedded, then the label listing
