"""The Confluence REST client's shared part; its Cloud and Server/Data Center flavours are in ``client_flavors``.

Both flavours offer the same small surface the exporter needs: find a space, list its pages without bodies (id, title,
parent, version), search page ids with CQL, fetch one page with its storage body and labels, and look up a user's
display name and the indexing user's time zone (attachments, comments and Cloud folders: :mod:`page_children`).
Pagination follows ``_links.next`` (cursor or offset, relative to the site) or the ``Link`` header, asking every
page for the configured size again (the HTTP layer caps it). A page's labels beyond the first embedded page are
paged through.

A page that cannot be read raises a ``PageUnreadableError`` subclass: 403 ``PageForbiddenError``, 404
``PageNotFoundError``, an answer without ``body.storage`` ``PageBodyMissingError``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from tenant_rag.export.errors import (
    ConfluenceAuthError,
    ConfluenceForbiddenError,
    ConfluenceHTTPError,
    ExportError,
    PageBodyMissingError,
    PageForbiddenError,
    PageNotFoundError,
)
from tenant_rag.export.http import HttpClient, RetryPolicy, sent_limit, with_limit
from tenant_rag.export.models import ConfluenceCredentials, PageContent, PageSummary, SpaceInfo, parse_time
from tenant_rag.urls import public_url

log = logging.getLogger(__name__)
TREE_PARENTS = ("page", "folder", "whiteboard", "database", "embed")  # v2 ``ParentContentType``


class SpaceMissing(LookupError):
    """Raised by ``get_space``; the exporter turns it into ``SpaceNotFoundError`` naming the customer."""


def next_link(payload: dict[str, Any], links: Mapping[str | None, Mapping[str, str]]) -> str | None:
    """The next page's link: ``_links.next`` in the body, else the ``Link`` header's ``rel="next"``
    (``links`` is httpx's parsed ``Response.links``)."""
    link = (payload.get("_links") or {}).get("next") or (links.get("next") or {}).get("url")
    return str(link) if link else None


def tree_parent(item: dict[str, Any]) -> str | None:
    """A v2 item's parent in the page tree: a page, or a folder/whiteboard/database/embed (see ``TREE_PARENTS``)."""
    if item.get("parentId") and item.get("parentType", "page") in TREE_PARENTS:
        return str(item["parentId"])
    return None


def storage_of(item: dict[str, Any], page_id: str) -> str:
    """``body.storage.value``; raises ``PageBodyMissingError`` when the answer does not carry it."""
    storage = (item.get("body") or {}).get("storage")
    if not isinstance(storage, dict) or not isinstance(storage.get("value"), str):
        raise PageBodyMissingError(
            page_id, status=None, reason="no_body", message="the answer has no body.storage (body not expanded)"
        )
    return storage["value"]


def read_page_json(client: ConfluenceClient, page_id: str, url: str, params: dict[str, Any]) -> dict[str, Any]:
    """GET one page; 403 and 404 become ``PageForbiddenError`` / ``PageNotFoundError``."""
    try:
        item, _ = client.http.get_json(url, params)
    except ConfluenceForbiddenError as exc:
        raise PageForbiddenError(page_id, status=403, reason="forbidden", message=str(exc)) from exc
    except ConfluenceHTTPError as exc:
        if exc.status == 404:
            raise PageNotFoundError(page_id, status=404, reason="not_found", message=str(exc)) from exc
        raise
    return dict(item)


class ConfluenceClient:
    """Shared plumbing; subclasses implement the flavour-specific endpoints."""

    flavor = ""

    def __init__(
        self,
        base_url: str,
        credentials: ConfluenceCredentials,
        *,
        page_size: int = 50,
        policy: RetryPolicy | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ExportError(f"Confluence base URL {public_url(base_url)!r} must start with http:// or https://")
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.context_path = parts.path.rstrip("/")
        self.page_size = page_size
        self.http = HttpClient(policy=policy, **self._auth(credentials))
        self._users: dict[str, str | None] = {}
        self._users_lock = threading.Lock()
        self._user_lookups: dict[str, threading.Lock] = {}

    def _auth(self, credentials: ConfluenceCredentials) -> dict[str, Any]:
        raise NotImplementedError

    def close(self) -> None:
        self.http.close()

    def absolute(self, link: str) -> str:
        """A ``_links.next``-style link as a full URL (links may or may not repeat the context path)."""
        if link.startswith(("http://", "https://")):
            return link
        if self.context_path and (link == self.context_path or link.startswith(self.context_path + "/")):
            return self.origin + link
        return self.base_url + link

    def paginate(self, url: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        wanted = sent_limit(url, params)
        next_url: str | None = url
        next_params: dict[str, Any] | None = params
        while next_url:
            payload, response = self.http.get_json(next_url, next_params)
            yield from payload.get("results") or []
            link = next_link(payload, response.links)
            next_url, next_params = (self.absolute(link), None) if link else (None, None)
            if next_url and wanted is not None and sent_limit(next_url, {}) is not None:
                next_url = with_limit(next_url, wanted)  # a reduced page size may grow back mid-listing

    def search_ids(self, cql: str) -> dict[str, int]:
        """Page id -> version for a CQL query (v1 ``content/search``; cursor on Cloud, offset on Server)."""
        found: dict[str, int] = {}
        params = {"cql": cql, "limit": self.page_size, "expand": "version"}
        log.info("CQL search: %s", cql)
        for item in self.paginate(f"{self.v1}/content/search", params):
            if item.get("type", "page") == "page":
                found[str(item["id"])] = int((item.get("version") or {}).get("number") or 0)
        return found

    def user_name(self, user_id: str) -> str | None:
        """Display name of a mentioned user (None when the lookup fails), asked once per client (one run) even when
        pages converted in parallel mention the same user."""
        with self._users_lock:
            if user_id in self._users:
                return self._users[user_id]
            lookup = self._user_lookups.setdefault(user_id, threading.Lock())
        with lookup:  # a second thread asking for the same user waits for the first one's answer
            with self._users_lock:
                if user_id in self._users:
                    return self._users[user_id]
            try:
                payload, _ = self.http.get_json(f"{self.v1}/user", self._user_params(user_id))
                name = payload.get("displayName") or payload.get("publicName")
            except ConfluenceHTTPError:
                name = None
            with self._users_lock:
                self._users[user_id] = name
        return name

    def user_time_zone(self) -> str | None:
        """The indexing user's time zone (``timeZone`` of v1 ``user/current``), the zone CQL dates are read in.

        None when the site does not say (Server/DC answers without it; a Cloud user may hide it). 401/403 raise.
        """
        try:
            payload, _ = self.http.get_json(f"{self.v1}/user/current", {})
        except ConfluenceAuthError:
            raise
        except ConfluenceHTTPError as exc:
            log.warning("could not read the current user's time zone: %s", exc)
            return None
        zone = payload.get("timeZone") if isinstance(payload, dict) else None
        return str(zone) if zone else None

    def attachment_url(self, page_id: str, filename: str) -> str:
        return f"{self.base_url}/download/attachments/{page_id}/{quote(filename)}"

    def page_content(
        self, item: dict[str, Any], space: SpaceInfo, *, parent_id: str | None, modified: Any, labels: list[str]
    ) -> PageContent:
        """A page answer (either flavour) as ``PageContent``; raises ``PageBodyMissingError`` without a body."""
        links = item.get("_links") or {}
        page_id = str(item["id"])
        return PageContent(
            page_id=page_id,
            title=str(item.get("title") or ""),
            space_key=space.key,
            parent_id=parent_id,
            version=int((item.get("version") or {}).get("number") or 0),
            last_modified=parse_time(modified),
            storage=storage_of(item, page_id),
            labels=tuple(sorted(set(labels))),
            url=(links.get("base") or self.base_url) + links["webui"] if links.get("webui") else None,
        )

    @property
    def v1(self) -> str:
        return f"{self.base_url}/rest/api"

    def _user_params(self, user_id: str) -> dict[str, str]:
        raise NotImplementedError

    def get_space(self, key: str) -> SpaceInfo:
        raise NotImplementedError

    def list_pages(self, space: SpaceInfo, statuses: list[str]) -> Iterator[PageSummary]:
        raise NotImplementedError

    def get_page(self, page_id: str, space: SpaceInfo) -> PageContent:
        raise NotImplementedError
