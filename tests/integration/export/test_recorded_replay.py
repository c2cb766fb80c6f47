"""The real client against recorded Confluence Cloud answers, replayed over real HTTP.

The answers in ``../shared/data/confluence/rest_api/v1_recorded_cloud`` were recorded from live Cloud sites. A
small replay server serves them byte for byte at the paths they came from (``/wiki/rest/api/...``); where the
recording has only the first page of a listing, the page its ``_links.next`` points to is answered as the end of
the listing. The tests run the project's own REST v1 client (listing, CQL search, page read) and the storage-format
converter on them, and check what it made of each recorded field.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tenant_rag.export import storage_to_markdown
from tenant_rag.export.client_flavors import CloudClient, ServerClient
from tenant_rag.export.errors import PageBodyMissingError
from tenant_rag.export.models import ConfluenceCredentials, SpaceInfo

pytestmark = pytest.mark.shared

RECORDED = "data/confluence/rest_api/v1_recorded_cloud"
TOKEN = "recorded-replay-token"


class Replay:
    """Serves recorded answers by path; records every request (path, query, Authorization header)."""

    def __init__(self, folder: Path) -> None:
        self.listing = (folder / "content_list_response.json").read_bytes()
        self.search = (folder / "content_search_cql_response.json").read_bytes()
        self.page = (folder / "airbyte_page_98487_body_storage_view.json").read_bytes()
        self.listed = {str(item["id"]): item for item in json.loads(self.listing)["results"]}
        self.requests: list[tuple[str, dict[str, list[str]], str | None]] = []

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, bytes]:
        if path == "/wiki/rest/api/content":
            return 200, self.listing if "next" not in query else _end_of_listing(query)
        if path == "/wiki/rest/api/content/search":
            return 200, self.search if "cursor" not in query else _end_of_listing(query)
        if path == "/wiki/rest/api/content/98487":
            return 200, self.page
        page_id = path.rsplit("/", 1)[-1]
        if path.startswith("/wiki/rest/api/content/") and page_id in self.listed:
            return 200, json.dumps(self.listed[page_id]).encode()  # as listed: body not expanded
        return 404, b'{"statusCode": 404, "message": "No content found"}'


def _end_of_listing(query: dict[str, list[str]]) -> bytes:
    start = int(query.get("start", ["0"])[0])
    return json.dumps({"results": [], "start": start, "limit": 2, "size": 0, "_links": {"context": "/wiki"}}).encode()


@pytest.fixture
def replay(shared_dir: Path) -> Iterator[tuple[Replay, str]]:
    state = Replay(shared_dir / RECORDED)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            state.requests.append((parts.path, query, self.headers.get("Authorization")))
            status, body = state.answer(parts.path, query)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/wiki"
    finally:
        server.shutdown()
        server.server_close()


def _credentials() -> ConfluenceCredentials:
    return ConfluenceCredentials(username="indexer@example.com", api_token=TOKEN, bearer_token=TOKEN)


def test_listing_follows_the_recorded_next_link_and_reads_each_field(replay: tuple[Replay, str]) -> None:
    state, base = replay
    client = ServerClient(base, _credentials(), page_size=2)
    try:
        pages = list(client.list_pages(SpaceInfo(key="~680738455", space_id="65538", name="John Doe"), ["current"]))
    finally:
        client.close()
    assert [(p.page_id, p.title, p.parent_id, p.version) for p in pages] == [
        ("65639", "Sample Pages", None, 1),
        ("65656", "Product requirements", "65639", 1),
    ]
    assert pages[0].last_modified == datetime(2021, 8, 2, 9, 53, 5, 367000, tzinfo=UTC)
    paths = [(path, query) for path, query, _ in state.requests]
    assert len(paths) == 2 and all(path == "/wiki/rest/api/content" for path, _ in paths)
    second = paths[1][1]
    assert second["next"] == ["true"] and second["start"] == ["2"]  # the recorded relative link, under /wiki
    assert all(auth == f"Bearer {TOKEN}" for _, _, auth in state.requests)
    assert all(TOKEN not in json.dumps(query) for _, query in paths)


def test_cql_search_follows_the_recorded_cursor(replay: tuple[Replay, str]) -> None:
    state, base = replay
    client = CloudClient(base, _credentials(), page_size=25)
    try:
        found = client.search_ids("type=page")
    finally:
        client.close()
    assert found == {"8912897": 1, "8847372": 1}
    first, second = (query for path, query, _ in state.requests if path == "/wiki/rest/api/content/search")
    assert first["cql"] == ["type=page"]
    assert second["cursor"] == ["_sa_WyJcdDg4NDczNzIgUU5aRTlIVzxbclZnSitSZXBSTU4gY3AiXQ=="]  # decoded once
    assert second["limit"] == ["25"]  # the configured page size, not the recorded 2
    assert all((auth or "").startswith("Basic ") for _, _, auth in state.requests)


def test_a_recorded_cloud_page_reads_and_converts(replay: tuple[Replay, str], shared_dir: Path) -> None:
    state, base = replay
    recorded = json.loads((shared_dir / RECORDED / "airbyte_page_98487_body_storage_view.json").read_text())
    client = ServerClient(base, _credentials(), page_size=10)
    try:
        page = client.get_page("98487", SpaceInfo(key="~5fc9e78d2730d800760becc4", space_id="1", name="Personal"))
    finally:
        client.close()
    assert (page.page_id, page.title, page.version, page.parent_id) == ("98487", "Overview", 1, None)
    assert page.storage == recorded["body"]["storage"]["value"]
    assert page.last_modified == datetime(2023, 2, 17, 9, 8, 30, 734000, tzinfo=UTC)
    assert page.url is not None and page.url.endswith("/spaces/~5fc9e78d2730d800760becc4/overview")
    assert state.requests[0][1]["expand"] == ["body.storage,version,ancestors,metadata.labels"]

    markdown = storage_to_markdown(page.storage).markdown
    assert "<ac:" not in markdown and "<ri:" not in markdown and "<span" not in markdown and "<p" not in markdown
    # every layout section's text survives, in document order; headings stay headings
    in_order = [
        "Say hello to your colleagues",
        "## 📄 Recent pages that I've worked on",
        "## 🖐 Get in touch",
        'End with a bang! Some options are: "I am so grateful to be here at \\<Insert company name>',
    ]
    positions = [markdown.find(text) for text in in_order]
    assert -1 not in positions and positions == sorted(positions), markdown
    assert "Insert your email here" not in markdown  # editor placeholders are prompts, not content
    assert "&quot;" not in markdown and "&lt;" not in markdown  # entities decoded once


def test_a_recorded_listing_item_without_its_body_is_an_error_not_an_empty_page(replay: tuple[Replay, str]) -> None:
    _, base = replay
    client = ServerClient(base, _credentials(), page_size=10)
    try:
        with pytest.raises(PageBodyMissingError) as raised:
            client.get_page("65639", SpaceInfo(key="~680738455", space_id="65538", name="John Doe"))
    finally:
        client.close()
    assert raised.value.page_id == "65639" and raised.value.reason == "no_body"
