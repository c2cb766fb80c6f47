"""``FakeConfluence``: the site model behind a real HTTP server on 127.0.0.1 (an ephemeral port by default).

Cloud flavour serves REST v2 under ``/wiki/api/v2`` and v1 under ``/wiki/rest/api`` with basic auth (e-mail + API
token); Server flavour serves v1 under ``/rest/api`` with a bearer personal access token (basic also accepted when
configured). Faults are injected per request before routing (see :mod:`faults`); single pages can be made to fail
for good (``break_page``), be restricted (listed, 403 on read), vanish between the listing and the fetch
(``delete_on_read``: 404) or answer without their body (``strip_body``).

Attachments download from ``{context}/download/attachments/{page id}/{file name}`` (the ``_links.download`` of
their metadata); Cloud folders answer ``/wiki/api/v2/folders/{id}``.

CQL dates are read in the indexing user's time zone (``user_timezone``, default the site's), which Cloud's
``user/current`` reports as ``timeZone`` (``null`` with ``share_user_timezone=False``; Server omits it).

``traffic`` counts every answer by kind of request and status (see :mod:`traffic`), faults included.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from datetime import datetime
from http.server import ThreadingHTTPServer
from typing import Literal
from urllib.parse import unquote

from tenant_rag_devtools.confluence_server import api_v1, api_v2, children
from tenant_rag_devtools.confluence_server.access import DEFAULT_GROUP, SitePermissions
from tenant_rag_devtools.confluence_server.faults import FAULT_KINDS, FaultInjector
from tenant_rag_devtools.confluence_server.http_handler import QuietServer, SiteHandler
from tenant_rag_devtools.confluence_server.responses import ApiError, Request, Response, v1_error, v2_error
from tenant_rag_devtools.confluence_server.site import Site
from tenant_rag_devtools.confluence_server.traffic import Traffic

log = logging.getLogger(__name__)


class FakeConfluence:
    """An in-memory Confluence site served over HTTP; see the module docstring."""

    def __init__(
        self,
        *,
        flavor: Literal["cloud", "server"] = "cloud",
        auth: tuple[str, str] | None = ("user@example.com", "token"),
        bearer: str | None = None,
        site_timezone: str = "UTC",
        user_timezone: str | None = None,
        share_user_timezone: bool = True,
        seed: int = 0,
    ) -> None:
        if flavor not in ("cloud", "server"):
            raise ValueError(f"flavor must be 'cloud' or 'server', not {flavor!r}")
        self.flavor = flavor
        self.auth = auth
        self.bearer = bearer
        self.site_timezone = site_timezone
        self.user_timezone = user_timezone
        self.share_user_timezone = share_user_timezone
        self.site = Site()
        self.faults = FaultInjector(seed)
        self.request_log: deque[str] = deque(maxlen=20000)
        self.traffic = Traffic()  # answers by kind and status (see :mod:`traffic`)
        self.count_lock = threading.Lock()
        self.request_count = 0
        self.broken_pages: dict[str, int] = {}
        self.delete_on_read_pages: set[str] = set()
        self.bodiless_pages: set[str] = set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- the site model -------------------------------------------------------------------------------------------
    def add_space(self, key: str, name: str) -> None:
        self.site.add_space(key, name)

    def add_user(self, user_id: str, display_name: str) -> None:
        with self.site.lock:
            self.site.users[user_id] = display_name
        self.site.permissions.join(DEFAULT_GROUP, user_id)

    @property
    def permissions(self) -> SitePermissions:
        """Groups, space view permissions and page read restrictions (see :mod:`access`)."""
        return self.site.permissions

    def add_page(
        self,
        space_key: str,
        title: str,
        storage: str,
        *,
        parent_id: str | None = None,
        labels: Sequence[str] = (),
        page_id: str | None = None,
        status: str = "current",
        modified_at: datetime | None = None,
    ) -> str:
        return self.site.add_page(
            space_key,
            title,
            storage,
            parent_id=parent_id,
            labels=list(labels),
            page_id=page_id,
            status=status,
            modified_at=modified_at,
        )

    def update_page(
        self,
        page_id: str,
        *,
        storage: str | None = None,
        title: str | None = None,
        parent_id: str | None = None,
        labels: Sequence[str] | None = None,
        modified_at: datetime | None = None,
    ) -> None:
        self.site.update_page(
            page_id,
            storage=storage,
            title=title,
            parent_id=parent_id,
            labels=None if labels is None else list(labels),
            modified_at=modified_at,
        )

    def delete_page(self, page_id: str) -> None:
        self.site.delete_page(page_id)

    def add_folder(self, space_key: str, title: str, *, parent_id: str | None = None) -> str:
        """A Cloud folder; pages added with it as ``parent_id`` answer ``parentType: folder``."""
        return self.site.add_folder(space_key, title, parent_id=parent_id)

    def attach(self, page_id: str, file_name: str, data: bytes, media_type: str = "application/octet-stream") -> str:
        """Attach a file to a page (a new version when the page has a file of that name); returns its id."""
        return self.site.put_attachment(page_id, file_name, data, media_type)

    def delete_attachment(self, attachment_id: str) -> None:
        with self.site.lock:
            self.site.attachments[attachment_id].status = "trashed"

    def add_comment(self, page_id: str, storage: str, *, author_id: str, location: str = "footer") -> str:
        return self.site.add_comment(page_id, storage, author_id=author_id, location=location)

    def set_faults(
        self,
        *,
        rate: float = 0.0,
        kinds: Sequence[str] = FAULT_KINDS,
        retry_after: float = 0.05,
        slow_seconds: float = 0.2,
        fail_limit_above: int | None = None,
    ) -> None:
        self.faults.configure(
            rate=rate,
            kinds=kinds,
            retry_after=retry_after,
            slow_seconds=slow_seconds,
            fail_limit_above=fail_limit_above,
        )

    def break_page(self, page_id: str, status: int = 500) -> None:
        """Make every request for this page fail with ``status`` (``fix_page`` undoes it)."""
        self.broken_pages[page_id] = status

    def fix_page(self, page_id: str) -> None:
        self.broken_pages.pop(page_id, None)
        self.bodiless_pages.discard(page_id)

    def restrict_page(self, page_id: str, restricted: bool = True) -> None:
        """A read restriction the indexing user lacks: still listed, reading it answers 403, CQL leaves it out."""
        with self.site.lock:
            self.site.pages[page_id].restricted = restricted

    def delete_on_read(self, page_id: str) -> None:
        """The page is deleted just before its next read, which answers 404: deleted between listing and fetch."""
        self.delete_on_read_pages.add(page_id)

    def strip_body(self, page_id: str) -> None:
        """Reads of the page answer without ``body.storage``, as when the body is not expanded."""
        self.bodiless_pages.add(page_id)

    # -- serving --------------------------------------------------------------------------------------------------
    @property
    def context(self) -> str:
        return "/wiki" if self.flavor == "cloud" else ""

    def start(self, port: int = 0, host: str = "127.0.0.1") -> str:
        if self._server is not None:
            raise RuntimeError("the server is already running")
        handler = type("BoundHandler", (SiteHandler,), {"fake": self})
        server = QuietServer((host, port), handler)
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-confluence", daemon=True
        )
        self._thread.start()
        return self.base_url

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the server is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{self.context}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @contextlib.contextmanager
    def serve(self, port: int = 0) -> Iterator[str]:
        """Run the server in a background thread; yields the base URL the client should use."""
        url = self.start(port)
        try:
            yield url
        finally:
            self.stop()

    # -- one request ----------------------------------------------------------------------------------------------
    def authorized(self, header: str | None) -> bool:
        if self.auth is None and self.bearer is None:
            return True
        if not header:
            return False
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and self.bearer is not None:
            return value.strip() == self.bearer
        if scheme.lower() == "basic" and self.auth is not None:
            try:
                user, _, token = base64.b64decode(value.strip()).decode("utf-8").partition(":")
            except ValueError:
                return False
            return (user, token) == self.auth
        return False

    def respond(self, path: str, query: dict[str, list[str]], origin: str, auth_header: str | None) -> Response:
        is_v2 = path.startswith(self.context + api_v2.V2 + "/") and self.flavor == "cloud"
        error = v2_error if is_v2 else v1_error
        if not self.authorized(auth_header):
            return error(401, "Unauthorized: missing or invalid credentials")
        segments = path.split("/")
        single = "pages" in segments or "content" in segments or "attachments" in segments  # downloads too
        for page_id, status in self.broken_pages.items():
            if page_id in segments and single:
                return error(status, f"page {page_id} is broken on purpose")
        for page_id in list(self.delete_on_read_pages):
            if page_id in segments and single:
                self.delete_on_read_pages.discard(page_id)
                self.delete_page(page_id)
        if any(page_id in segments and single for page_id in self.bodiless_pages):
            expand = [",".join(e for e in v.split(",") if e != "body.storage") for v in query.get("expand", [])]
            query = {**{k: v for k, v in query.items() if k != "body-format"}, "expand": expand}
        request = Request(
            path,
            query,
            origin,
            self.context,
            self.site,
            self.flavor,
            self.site_timezone,
            self.user_timezone,
            self.share_user_timezone,
        )
        try:
            download = self.context + "/download/attachments/"
            if path.startswith(download) and path.count("/", len(download)) == 1:
                page_id, name = path[len(download) :].split("/")
                with self.site.lock:
                    return children.download(request, page_id, unquote(name))
            if is_v2:
                return api_v2.handle(request, path[len(self.context + api_v2.V2) :])
            if path.startswith(self.context + api_v1.V1 + "/"):
                return api_v1.handle(request, path[len(self.context + api_v1.V1) :])
            raise ApiError(404, f"no such resource: {path}")
        except ApiError as exc:
            return error(exc.status, exc.message)
