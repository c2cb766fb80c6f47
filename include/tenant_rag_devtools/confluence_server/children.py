"""What hangs off pages on the local server: attachments (metadata and downloads), footer comments, label pages,
and Cloud folders. Shapes follow the v1 spec and recorded answers (``type: attachment`` content with
``extensions.fileSize`` and ``_links.download``) and the v2 spec (``AttachmentBulk``, ``PageCommentModel``,
``FolderSingle``, ``MultiEntityResult<Label>``)."""

from __future__ import annotations

import uuid
import zlib
from typing import Any
from urllib.parse import quote

from tenant_rag_devtools.confluence_server.responses import (
    ApiError,
    Request,
    Response,
    decode_cursor,
    encode_cursor,
    iso,
    labels_v2,
    relative_url,
    user_json,
)
from tenant_rag_devtools.confluence_server.site import Attachment, Comment, Folder, Page

V1, V2 = "/rest/api", "/api/v2"


def _millis(att: Attachment) -> int:
    return int(att.last_modified.timestamp() * 1000)


def download_link(att: Attachment) -> str:
    query = f"version={att.version}&modificationDate={_millis(att)}&cacheVersion=1&api=v2"
    return f"/download/attachments/{att.container_id}/{quote(att.title)}?{query}"


def _webui(att: Attachment) -> str:
    preview = quote(f"/{att.container_id}/{att.page_id}/{att.title}", safe="")
    return f"/pages/viewpageattachments.action?pageId={att.container_id}&preview={preview}"


def _v1_version(req: Request, number: int, when: Any, author: str, self_link: str) -> dict[str, Any]:
    return {
        "by": user_json(req, author),
        "when": iso(when),
        "message": "",
        "number": number,
        "minorEdit": False,
        "_links": {"self": self_link},
    }


def _container(req: Request, page_id: str) -> dict[str, Any]:
    page = req.site.pages[page_id]
    return {"id": page.page_id, "type": "page", "status": page.status, "title": page.title}


def attachment_v1(req: Request, att: Attachment, expand: set[str]) -> dict[str, Any]:
    extensions: dict[str, Any] = {"mediaType": att.media_type, "fileSize": len(att.data), "comment": ""}
    if req.flavor == "cloud":
        extensions.update(
            fileId=str(uuid.uuid5(uuid.NAMESPACE_URL, att.page_id)), collectionName=f"contentId-{att.container_id}"
        )
    item: dict[str, Any] = {"id": att.page_id, "type": "attachment", "status": att.status, "title": att.title}
    if "container" in expand:
        item["container"] = _container(req, att.container_id)
    if "version" in expand:
        link = f"{req.base}{V1}/content/{att.page_id}/version/{att.version}"
        item["version"] = _v1_version(req, att.version, att.last_modified, "557058:0f1d2c3b-demo-author", link)
    item["metadata"] = {"mediaType": att.media_type, "comment": ""}
    item["extensions"] = extensions
    item["_links"] = {
        "webui": _webui(att),
        "download": download_link(att),
        "self": f"{req.base}{V1}/content/{att.page_id}",
    }
    item["_expandable"] = {k: "" for k in ("container", "operations", "children", "history", "version", "space")}
    return item


def attachment_v2(att: Attachment) -> dict[str, Any]:
    """``AttachmentBulk``."""
    return {
        "id": att.page_id,
        "status": att.status,
        "title": att.title,
        "createdAt": iso(att.created_at),
        "pageId": att.container_id,
        "mediaType": att.media_type,
        "mediaTypeDescription": att.media_type,
        "comment": "",
        "fileId": str(uuid.uuid5(uuid.NAMESPACE_URL, att.page_id)),
        "fileSize": len(att.data),
        "webuiLink": _webui(att),
        "downloadLink": download_link(att),
        "version": {"createdAt": iso(att.last_modified), "message": "", "number": att.version, "minorEdit": False},
        "_links": {"webui": _webui(att), "download": download_link(att)},
    }


def comment_v1(req: Request, comment: Comment, expand: set[str]) -> dict[str, Any]:
    page = req.site.pages[comment.container_id]
    item: dict[str, Any] = {
        "id": comment.page_id,
        "type": "comment",
        "status": comment.status,
        "title": f"Re: {page.title}",
    }
    if "container" in expand:
        item["container"] = _container(req, comment.container_id)
    if "version" in expand:
        link = f"{req.base}{V1}/content/{comment.page_id}/version/{comment.version}"
        item["version"] = _v1_version(req, comment.version, comment.last_modified, comment.author_id, link)
    if "history" in expand:
        created = {"createdBy": user_json(req, comment.author_id), "createdDate": iso(comment.created_at)}
        item["history"] = {"latest": True, **created}
    if "body.storage" in expand:
        item["body"] = {"storage": {"value": comment.storage, "representation": "storage"}}
    item["extensions"] = {"location": comment.location}
    item["_links"] = {"webui": f"/pages/viewpage.action?pageId={page.page_id}&focusedCommentId={comment.page_id}"}
    return item


def comment_v2(comment: Comment, body_format: str | None) -> dict[str, Any]:
    """``PageCommentModel``."""
    item: dict[str, Any] = {
        "id": comment.page_id,
        "status": comment.status,
        "title": f"Re: comment {comment.page_id}",
        "pageId": comment.container_id,
        "version": {
            "createdAt": iso(comment.last_modified),
            "message": "",
            "number": comment.version,
            "minorEdit": False,
            "authorId": comment.author_id,
        },
        "body": {"storage": {"representation": "storage", "value": comment.storage}}
        if body_format == "storage"
        else {},
        "_links": {"webui": f"/pages/viewpage.action?pageId={comment.container_id}&focusedCommentId={comment.page_id}"},
    }
    return item


def folder_v2(req: Request, folder: Folder) -> dict[str, Any]:
    """``FolderSingle`` with ``_links.base``."""
    space = req.site.spaces[folder.space_key]
    item: dict[str, Any] = {
        "id": folder.folder_id,
        "type": "folder",
        "status": "current",
        "title": folder.title,
        "parentId": folder.parent_id,
        "position": 0,
        "authorId": "557058:0f1d2c3b-demo-author",
        "ownerId": "557058:0f1d2c3b-demo-author",
        "createdAt": iso(folder.created_at),
        "spaceId": space.space_id,
        "version": {"createdAt": iso(folder.created_at), "message": "", "number": 1, "minorEdit": False},
        "_links": {"webui": f"/spaces/{folder.space_key}/folder/{folder.folder_id}", "base": req.base},
    }
    if folder.parent_type is not None:  # ParentContentType is not nullable: absent at the top, as for pages
        item["parentType"] = folder.parent_type
    return item


def labels_v1(names: list[str]) -> list[dict[str, str]]:
    return [{"prefix": "global", "name": n, "id": str(zlib.crc32(n.encode())), "label": n} for n in names]


def offset_page(
    req: Request, path: str, items: list[dict[str, Any]], default: int = 25, maximum: int = 1000
) -> Response:
    """A v1 list with ``start``/``limit`` (capped at ``maximum``) and a relative ``_links.next`` while more remain."""
    limit, start = req.limit(min(default, maximum), maximum), int(req.one("start", "0") or 0)
    window = items[start : start + limit]
    params = {k: v for k, v in req.query.items() if k != "start"}
    links = {"base": req.base, "context": req.context, "self": req.base + relative_url(V1 + path, params)}
    if start + limit < len(items):
        links["next"] = relative_url(V1 + path, {**params, "limit": [str(limit)], "start": [str(start + limit)]})
    return Response(200, {"results": window, "start": start, "limit": limit, "size": len(window), "_links": links})


def cursor_page(req: Request, path: str, items: list[dict[str, Any]], maximum: int = 250) -> Response:
    """A v2 ``MultiEntityResult`` with an opaque cursor in ``_links.next`` and the ``Link`` header."""
    limit = req.limit(min(25, maximum), maximum)
    cursor = req.one("cursor")
    start = int(decode_cursor(cursor).get("o", 0)) if cursor else 0
    payload: dict[str, Any] = {"results": items[start : start + limit], "_links": {"base": req.base}}
    headers = {}
    if start + limit < len(items):
        params = {k: v for k, v in req.query.items() if k != "cursor"}
        link = relative_url(req.context + V2 + path, {**params, "cursor": [encode_cursor({"o": start + limit})]})
        payload["_links"]["next"] = link
        headers["Link"] = f'<{link}>; rel="next", <{req.base}>; rel="base"'
    return Response(200, payload, headers)


def _attachments_of(req: Request, page: Page) -> list[Attachment]:
    found = [a for a in req.site.attachments.values() if a.container_id == page.page_id and a.status == "current"]
    return sorted(found, key=lambda a: (len(a.page_id), a.page_id))


def _footer_comments(req: Request, page: Page) -> list[Comment]:
    found = [
        c
        for c in req.site.comments.values()
        if c.container_id == page.page_id and c.status == "current" and c.location == "footer"
    ]
    return sorted(found, key=lambda c: (len(c.page_id), c.page_id))


def handle_v1(req: Request, path: str, page: Page, rest: list[str]) -> Response | None:
    """``content/{id}/child/attachment``, ``content/{id}/child/comment`` and ``content/{id}/label``."""
    expand = set(req.many("expand"))
    if rest == ["child", "attachment"]:
        return offset_page(req, path, [attachment_v1(req, a, expand) for a in _attachments_of(req, page)])
    if rest == ["child", "comment"]:
        locations = set(req.many("location")) or {"footer", "inline", "resolved"}
        comments = [c for c in req.site.comments.values() if c.container_id == page.page_id and c.status == "current"]
        chosen = sorted((c for c in comments if c.location in locations), key=lambda c: (len(c.page_id), c.page_id))
        return offset_page(req, path, [comment_v1(req, c, expand) for c in chosen])
    if rest == ["label"]:
        return offset_page(req, path, labels_v1(sorted(page.labels)), 200, req.site.label_page_size)
    return None


def handle_v2(req: Request, path: str, page: Page, rest: list[str]) -> Response | None:
    """``pages/{id}/attachments``, ``pages/{id}/footer-comments`` and ``pages/{id}/labels``."""
    if rest == ["attachments"]:
        return cursor_page(req, path, [attachment_v2(a) for a in _attachments_of(req, page)])
    if rest == ["footer-comments"]:
        body_format = req.one("body-format")
        return cursor_page(req, path, [comment_v2(c, body_format) for c in _footer_comments(req, page)])
    if rest == ["labels"]:
        return cursor_page(req, path, labels_v2(page), min(250, req.site.label_page_size))
    return None


def folder(req: Request, folder_id: str) -> Response:
    found = req.site.folders.get(folder_id)
    if found is None:
        raise ApiError(404, f"folder {folder_id} not found")
    return Response(200, folder_v2(req, found))


def download(req: Request, page_id: str, file_name: str) -> Response:
    """``/download/attachments/{page id}/{file name}``: the file's bytes (the latest version)."""
    page = req.site.pages.get(page_id)
    if page is None or page.restricted:
        raise ApiError(404 if page is None else 403, f"no attachment {file_name!r} on page {page_id}")
    for att in _attachments_of(req, page):
        if att.title == file_name:
            return Response(
                200,
                None,
                {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(att.title)}"},
                raw=att.data,
                content_type=att.media_type,
            )
    raise ApiError(404, f"no attachment {file_name!r} on page {page_id}")
