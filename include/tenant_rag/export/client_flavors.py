"""The two flavours of the Confluence client, and ``make_client`` to pick one.

Cloud: REST v2 for spaces and pages (cursor pagination), v1 only for CQL and users. Server/Data Center: REST v1
with offset pagination and a personal access token. Both share ``client.ConfluenceClient``'s pagination, CQL search
and user lookups.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from tenant_rag.export.client import ConfluenceClient, SpaceMissing, read_page_json, tree_parent
from tenant_rag.export.errors import ConfluenceHTTPError, ExportError
from tenant_rag.export.http import RetryPolicy
from tenant_rag.export.models import ConfluenceCredentials, PageContent, PageSummary, SpaceInfo, parse_time


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
                parent_id=tree_parent(item),
                version=int(version.get("number") or 0),
                space_key=space.key,
                status=str(item.get("status") or "current"),
                last_modified=parse_time(version.get("createdAt")),
                parent_type=str(item.get("parentType") or "page"),
            )

    def get_page(self, page_id: str, space: SpaceInfo) -> PageContent:
        params = {"body-format": "storage", "include-labels": "true"}
        item = read_page_json(self, page_id, f"{self.v2}/pages/{page_id}", params)
        labels_field = item.get("labels") or {}
        labels = [str(label.get("name")) for label in labels_field.get("results") or []]
        if (labels_field.get("meta") or {}).get("hasMore"):
            url = f"{self.v2}/pages/{page_id}/labels"
            labels = [str(label.get("name")) for label in self.paginate(url, {"limit": 250})]
        version = item.get("version") or {}
        return self.page_content(
            item, space, parent_id=tree_parent(item), modified=version.get("createdAt"), labels=labels
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

    def get_page(self, page_id: str, space: SpaceInfo) -> PageContent:
        params = {"expand": "body.storage,version,ancestors,metadata.labels"}
        item = read_page_json(self, page_id, f"{self.v1}/content/{page_id}", params)
        embedded = (item.get("metadata") or {}).get("labels") or {}
        labels = embedded.get("results") or []
        limit, size = int(embedded.get("limit") or 0), int(embedded.get("size") or len(labels))
        if (embedded.get("_links") or {}).get("next") or (limit and size >= limit):  # only the first page came
            labels = list(self.paginate(f"{self.v1}/content/{page_id}/label", {"start": 0, "limit": 200}))
        ancestors = item.get("ancestors") or []
        return self.page_content(
            item,
            space,
            parent_id=str(ancestors[-1]["id"]) if ancestors else None,
            modified=(item.get("version") or {}).get("when"),
            labels=[str(label.get("name")) for label in labels],
        )


def make_client(
    flavor: str, base_url: str, credentials: ConfluenceCredentials, *, page_size: int, policy: RetryPolicy | None = None
) -> ConfluenceClient:
    if flavor == "cloud":
        return CloudClient(base_url, credentials, page_size=page_size, policy=policy)
    if flavor == "server":
        return ServerClient(base_url, credentials, page_size=page_size, policy=policy)
    raise ExportError(f"unknown Confluence flavor {flavor!r}; expected 'cloud' or 'server'")
