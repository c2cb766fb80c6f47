"""Confluence REST clients: Cloud (REST v2, plus v1 CQL search) and Server/Data Center (REST v1).

Both offer the same small surface the exporter needs: find a space, list its pages without bodies (id, title,
parent, version), search page ids with CQL, fetch one page with its storage body and labels, and look up a user's
display name. Pagination follows ``_links.next`` (cursor or offset, relative to the site) or the ``Link`` header.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

from tenant_rag.export.errors import ConfluenceHTTPError, ExportError
from tenant_rag.export.http import HttpClient, RetryPolicy
from tenant_rag.export.models import ConfluenceCredentials, PageContent, PageSummary, SpaceInfo, parse_time
from tenant_rag.urls import public_url


class SpaceMissing(LookupError):
    """Raised by ``get_space``; the exporter turns it into ``SpaceNotFoundError`` naming the customer."""


def next_link(payload: dict[str, Any], headers: Any) -> str | None:
    link = (payload.get("_links") or {}).get("next")
    if link:
        return str(link)
    for part in (headers.get("Link") or "").split(","):
        if 'rel="next"' in part and "<" in part and ">" in part:
            return part[part.index("<") + 1 : part.index(">")]
    return None


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
        next_url: str | None = url
        next_params: dict[str, Any] | None = params
        while next_url:
            payload, headers = self.http.get_json(next_url, next_params)
            yield from payload.get("results") or []
            link = next_link(payload, headers)
            next_url, next_params = (self.absolute(link), None) if link else (None, None)

    def search_ids(self, cql: str) -> dict[str, int]:
        """Page id -> version for a CQL query (v1 ``content/search``; cursor on Cloud, offset on Server)."""
        found: dict[str, int] = {}
        params = {"cql": cql, "limit": self.page_size, "expand": "version"}
        for item in self.paginate(f"{self.v1}/content/search", params):
            if item.get("type", "page") == "page":
                found[str(item["id"])] = int((item.get("version") or {}).get("number") or 0)
        return found

    def user_name(self, user_id: str) -> str | None:
        """Display name of a mentioned user (cached; None when the lookup fails)."""
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

    def attachment_url(self, page_id: str, filename: str) -> str:
        return f"{self.base_url}/download/attachments/{page_id}/{quote(filename)}"

    @property
    def v1(self) -> str:
        return f"{self.base_url}/rest/api"

    def _user_params(self, user_id: str) -> dict[str, str]:
        raise NotImplementedError

    def get_space(self, key: str) -> SpaceInfo:
        raise NotImplementedError

    def list_pages(self, space: SpaceInfo, statuses: list[str]) -> Iterator[PageSummary]:
        raise NotImplementedError

    def get_page(self, page_id: str, space: SpaceInfo) -> PageContent | None:
        raise NotImplementedError


class CloudClient(ConfluenceClient):
    """Confluence Cloud: ``{site}/wiki/api/v2`` for spaces and pages, v1 only for CQL and users."""

    flavor = "cloud"

    def _auth(self, credentials: ConfluenceCredentials) -> dict[str, Any]:
        if not (credentials.username and credentials.api_token):
            raise ExportError("Confluence Cloud needs an e-mail (login) and an API token (password) in the connection")
        return {"auth": (credentials.username, credentials.api_token)}

    @property
    def v2(self) -> str:
        return f"{self.base_url}/api/v2"

    def _user_params(self, user_id: str) -> dict[str, str]:
        return {"accountId": user_id}

    def get_space(self, key: str) -> SpaceInfo:
        payload, _ = self.http.get_json(f"{self.v2}/spaces", {"keys": key, "limit": 1})
        for item in payload.get("results") or []:
            if item.get("key") == key:
                return SpaceInfo(key=key, space_id=str(item["id"]), name=str(item.get("name") or key))
        raise SpaceMissing(key)

    def list_pages(self, space: SpaceInfo, statuses: list[str]) -> Iterator[PageSummary]:
        params = {"status": statuses, "limit": self.page_size}
        for item in self.paginate(f"{self.v2}/spaces/{space.space_id}/pages", params):
            version = item.get("version") or {}
            yield PageSummary(
                page_id=str(item["id"]),
                title=str(item.get("title") or ""),
                parent_id=str(item["parentId"])
                if item.get("parentId") and item.get("parentType", "page") == "page"
                else None,
                version=int(version.get("number") or 0),
                space_key=space.key,
                status=str(item.get("status") or "current"),
                last_modified=parse_time(version.get("createdAt")),
            )

    def get_page(self, page_id: str, space: SpaceInfo) -> PageContent | None:
        try:
            item, _ = self.http.get_json(
                f"{self.v2}/pages/{page_id}", {"body-format": "storage", "include-labels": "true"}
            )
        except ConfluenceHTTPError as exc:
            if exc.status == 404:
                return None
            raise
        labels_field = item.get("labels") or {}
        labels = [str(label.get("name")) for label in labels_field.get("results") or []]
        if (labels_field.get("meta") or {}).get("hasMore"):
            url = f"{self.v2}/pages/{page_id}/labels"
            labels = [str(label.get("name")) for label in self.paginate(url, {"limit": 250})]
        links = item.get("_links") or {}
        version = item.get("version") or {}
        return PageContent(
            page_id=str(item["id"]),
            title=str(item.get("title") or ""),
            space_key=space.key,
            parent_id=str(item["parentId"])
            if item.get("parentId") and item.get("parentType", "page") == "page"
            else None,
            version=int(version.get("number") or 0),
            last_modified=parse_time(version.get("createdAt")),
            storage=str(((item.get("body") or {}).get("storage") or {}).get("value") or ""),
            labels=tuple(sorted(set(labels))),
            url=(links.get("base") or self.base_url) + links["webui"] if links.get("webui") else None,
        )


class ServerClient(ConfluenceClient):
    """Confluence Server / Data Center: REST v1 with offset pagination and a personal access token."""

    flavor = "server"

    def _auth(self, credentials: ConfluenceCredentials) -> dict[str, Any]:
        if credentials.bearer_token:
            return {"headers": {"Authorization": f"Bearer {credentials.bearer_token}"}}
        if credentials.username and credentials.api_token:
            return {"auth": (credentials.username, credentials.api_token)}
        raise ExportError("Confluence Server/Data Center needs a personal access token (password of the connection)")

    def _user_params(self, user_id: str) -> dict[str, str]:
        return {"key": user_id}

    def get_space(self, key: str) -> SpaceInfo:
        try:
            item, _ = self.http.get_json(f"{self.v1}/space/{quote(key)}", {})
        except ConfluenceHTTPError as exc:
            if exc.status == 404:
                raise SpaceMissing(key) from exc
            raise
        return SpaceInfo(key=key, space_id=str(item.get("id") or key), name=str(item.get("name") or key))

    def list_pages(self, space: SpaceInfo, statuses: list[str]) -> Iterator[PageSummary]:
        params = {
            "spaceKey": space.key,
            "type": "page",
            "status": statuses,
            "expand": "version,ancestors",
            "start": 0,
            "limit": self.page_size,
        }
        for item in self.paginate(f"{self.v1}/content", params):
            ancestors = item.get("ancestors") or []
            version = item.get("version") or {}
            yield PageSummary(
                page_id=str(item["id"]),
                title=str(item.get("title") or ""),
                parent_id=str(ancestors[-1]["id"]) if ancestors else None,
                version=int(version.get("number") or 0),
                space_key=space.key,
                status=str(item.get("status") or "current"),
                last_modified=parse_time(version.get("when")),
            )

    def get_page(self, page_id: str, space: SpaceInfo) -> PageContent | None:
        try:
            item, _ = self.http.get_json(
                f"{self.v1}/content/{page_id}", {"expand": "body.storage,version,ancestors,metadata.labels"}
            )
        except ConfluenceHTTPError as exc:
            if exc.status == 404:
                return None
            raise
        labels = ((item.get("metadata") or {}).get("labels") or {}).get("results") or []
        ancestors = item.get("ancestors") or []
        links = item.get("_links") or {}
        version = item.get("version") or {}
        return PageContent(
            page_id=str(item["id"]),
            title=str(item.get("title") or ""),
            space_key=space.key,
            parent_id=str(ancestors[-1]["id"]) if ancestors else None,
            version=int(version.get("number") or 0),
            last_modified=parse_time(version.get("when")),
            storage=str(((item.get("body") or {}).get("storage") or {}).get("value") or ""),
            labels=tuple(sorted({str(label.get("name")) for label in labels})),
            url=(links.get("base") or self.base_url) + links["webui"] if links.get("webui") else None,
        )


def make_client(
    flavor: str, base_url: str, credentials: ConfluenceCredentials, *, page_size: int, policy: RetryPolicy | None = None
) -> ConfluenceClient:
    if flavor == "cloud":
        return CloudClient(base_url, credentials, page_size=page_size, policy=policy)
    if flavor == "server":
        return ServerClient(base_url, credentials, page_size=page_size, policy=policy)
    raise ExportError(f"unknown Confluence flavor {flavor!r}; expected 'cloud' or 'server'")
