"""What hangs off pages, read through a :class:`ConfluenceClient`: attachments, footer comments, and the Cloud
folders (whiteboards, databases, embeds) pages sit under.

- attachments and comments of a whole space come from one CQL listing each (``type = attachment`` /
  ``type = comment``, v1 ``content/search`` on both flavours): id, version and the page they belong to, so a run
  knows what changed without asking every page. Attachment metadata (file name, media type, size, download link)
  comes with it; the bytes are downloaded only when needed;
- a page's footer comments with their bodies: v2 ``pages/{id}/footer-comments`` on Cloud, v1
  ``content/{id}/child/comment?location=footer`` on Server/DC;
- a tree container: v2 ``folders/{id}`` (``whiteboards``, ``databases``, ``embeds``), title and parent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from tenant_rag.export import cql
from tenant_rag.export.client import ConfluenceClient, storage_of, tree_parent
from tenant_rag.export.errors import ConfluenceAuthError, ConfluenceHTTPError, PageBodyMissingError
from tenant_rag.export.models import AttachmentInfo, Comment, SpaceInfo, TreeContainer, parse_time

log = logging.getLogger(__name__)
CONTAINER_PATHS = {"folder": "folders", "whiteboard": "whiteboards", "database": "databases", "embed": "embeds"}


def _search(client: ConfluenceClient, space: SpaceInfo, kind: str) -> Iterator[dict[str, Any]]:
    query = cql.combine(f"space = {cql.quote_value(space.key)}", f"type = {kind}")
    params = {"cql": query, "limit": client.page_size, "expand": "version,container"}
    log.info("CQL search: %s", query)
    for item in client.paginate(f"{client.v1}/content/search", params):
        if item.get("type") == kind and item.get("status", "current") == "current":
            yield item


def _container_id(item: dict[str, Any]) -> str | None:
    container = item.get("container") or {}
    if container.get("type", "page") != "page" or not container.get("id"):
        return None  # a blog post's or another comment's
    return str(container["id"])


def list_attachments(client: ConfluenceClient, space: SpaceInfo) -> list[AttachmentInfo]:
    """Every current attachment on the space's pages, from one CQL listing (no downloads)."""
    found = []
    for item in _search(client, space, "attachment"):
        page_id = _container_id(item)
        download = (item.get("_links") or {}).get("download")
        if page_id is None or not download:
            continue
        extensions = item.get("extensions") or {}
        media_type = extensions.get("mediaType") or (item.get("metadata") or {}).get("mediaType") or ""
        size = extensions.get("fileSize")
        version = item.get("version") or {}
        found.append(
            AttachmentInfo(
                attachment_id=str(item["id"]),
                page_id=page_id,
                file_name=str(item.get("title") or ""),
                version=int(version.get("number") or 0),
                media_type=str(media_type),
                file_size=int(size) if isinstance(size, int | str) and str(size).isdigit() else None,
                download_url=client.absolute(str(download)),
                last_modified=parse_time(version.get("when")),
            )
        )
    return found


def comment_versions(client: ConfluenceClient, space: SpaceInfo) -> dict[str, list[str]]:
    """Page id -> its comments as sorted ``"id:version"`` strings: a signature that changes with any comment."""
    found: dict[str, list[str]] = {}
    for item in _search(client, space, "comment"):
        page_id = _container_id(item)
        if page_id is not None:
            found.setdefault(page_id, []).append(f"{item['id']}:{(item.get('version') or {}).get('number') or 0}")
    return {page_id: sorted(items) for page_id, items in found.items()}


def footer_comments(client: ConfluenceClient, page_id: str) -> list[Comment]:
    """The page's footer comments, oldest first; a comment without a body is skipped."""
    if client.flavor == "cloud":
        url = f"{client.base_url}/api/v2/pages/{page_id}/footer-comments"
        items = client.paginate(url, {"body-format": "storage", "limit": client.page_size})
    else:
        url = f"{client.v1}/content/{page_id}/child/comment"
        params = {"location": "footer", "expand": "body.storage,version,history", "start": 0, "limit": client.page_size}
        items = client.paginate(url, params)
    comments = []
    for item in items:
        try:
            storage = storage_of(item, page_id)
        except PageBodyMissingError:
            continue
        version = item.get("version") or {}
        if client.flavor == "cloud":
            author = client.user_name(str(version["authorId"])) if version.get("authorId") else None
            created = parse_time(version.get("createdAt"))
        else:
            history = item.get("history") or {}
            author = (history.get("createdBy") or version.get("by") or {}).get("displayName")
            created = parse_time(history.get("createdDate") or version.get("when"))
        comments.append(Comment(str(item["id"]), author, created, storage))
    return sorted(comments, key=lambda c: (c.created is None, c.created, len(c.comment_id), c.comment_id))


def get_container(client: ConfluenceClient, kind: str, container_id: str) -> TreeContainer | None:
    """A Cloud folder/whiteboard/database/embed; None when it cannot be read (its pages then sit at the top)."""
    path = CONTAINER_PATHS.get(kind)
    if path is None or client.flavor != "cloud":
        return None
    try:
        item, _ = client.http.get_json(f"{client.base_url}/api/v2/{path}/{container_id}", {})
    except ConfluenceAuthError as exc:
        if exc.status == 401:
            raise
        log.warning("%s %s cannot be read (%s): the pages under it are placed at the top", kind, container_id, exc)
        return None
    except ConfluenceHTTPError as exc:
        log.warning("%s %s cannot be read (%s): the pages under it are placed at the top", kind, container_id, exc)
        return None
    return TreeContainer(
        container_id=str(item.get("id") or container_id),
        kind=kind,
        title=str(item.get("title") or ""),
        parent_id=tree_parent(item),
        parent_type=str(item["parentType"]) if item.get("parentType") else None,
    )
