"""Confluence Cloud REST v2 on the local server: spaces, pages (bulk and single), labels, ancestors, and (in
:mod:`children`) attachments, footer comments and folders.

Shapes follow the v2 OpenAPI spec (``SpaceBulk``, ``PageBulk``, ``PageSingle``, ``MultiEntityResult``): string
ids, ``version`` objects, ``body`` only when ``body-format`` is given, ``_links.next`` plus a ``Link`` header for
cursor pagination (keyset on page id, so pages added or removed mid-listing are neither skipped nor repeated).
"""

from __future__ import annotations

from typing import Any

from tenant_rag_devtools.confluence_server import bodies, children
from tenant_rag_devtools.confluence_server.responses import (
    ApiError,
    Request,
    Response,
    decode_cursor,
    encode_cursor,
    iso,
    labels_v2,
    relative_url,
    tinyui,
    webui,
)
from tenant_rag_devtools.confluence_server.site import Page, Space

V2 = "/api/v2"
STATUSES = {"current", "archived", "deleted", "trashed", "draft", "historical", "any"}


def space_json(space: Space) -> dict[str, Any]:
    """``SpaceBulk``: ``description``/``icon`` only appear when asked for (description-format, include-icon)."""
    item: dict[str, Any] = {
        "id": space.space_id,
        "key": space.key,
        "name": space.name,
        "type": space.space_type,
        "status": "current",
        "authorId": "557058:0f1d2c3b-demo-author",
        "createdAt": iso(space.created_at),
        "_links": {"webui": f"/spaces/{space.key}"},
    }
    if space.homepage_id:
        item["homepageId"] = space.homepage_id
    return item


def page_json(req: Request, page: Page, *, body_format: str | None, single: bool = False) -> dict[str, Any]:
    space = req.site.spaces[page.space_key]
    item: dict[str, Any] = {
        "id": page.page_id,
        "status": page.status,
        "title": page.title,
        "spaceId": space.space_id,
        "parentId": page.parent_id,
        "position": page.position,
        "authorId": page.author_id,
        "ownerId": page.author_id,
        "lastOwnerId": None,
        "createdAt": iso(page.created_at),
        "version": {
            "createdAt": iso(page.last_modified),
            "message": "",
            "number": page.version,
            "minorEdit": False,
            "authorId": page.author_id,
        },
        "body": {},
        "_links": {
            "webui": webui(page, "cloud"),
            "editui": f"/pages/resumedraft.action?draftId={page.page_id}",
            "tinyui": tinyui(page.page_id),
        },
    }
    if page.parent_id:
        item["parentType"] = page.parent_type
    allowed = bodies.REPRESENTATIONS if single else ("storage", "atlas_doc_format")  # as the spec's enums
    if body_format is not None and body_format in allowed:
        item["body"] = {body_format: {"representation": body_format, "value": bodies.render(page.storage, body_format)}}
    elif body_format is not None:
        raise ApiError(400, f"body-format {body_format!r} is not supported here (use one of {', '.join(allowed)})")
    if single:
        item["_links"]["base"] = req.base
    else:
        item["subtype"] = page.subtype  # PageBulk only; "live" for a live doc
    return item


def _statuses(req: Request) -> set[str]:
    wanted = set(req.many("status")) or {"current"}
    unknown = wanted - STATUSES
    if unknown:
        raise ApiError(400, f"invalid status {sorted(unknown)}")
    return wanted


def _page_list(req: Request, path: str, pages: list[Page]) -> Response:
    limit = req.limit()
    cursor = req.one("cursor")
    after = str(decode_cursor(cursor).get("after", "")) if cursor else ""
    key = lambda p: (len(p.page_id), p.page_id)  # noqa: E731 - numeric-string order
    pages = sorted(pages, key=key)
    if after:
        pages = [p for p in pages if key(p) > (len(after), after)]
    window, more = pages[:limit], len(pages) > limit
    body_format = req.one("body-format")
    payload: dict[str, Any] = {
        "results": [page_json(req, p, body_format=body_format) for p in window],
        "_links": {"base": req.base},
    }
    headers = {}
    if more:
        params = {k: v for k, v in req.query.items() if k != "cursor"}
        params["cursor"] = [encode_cursor({"after": window[-1].page_id})]
        link = relative_url(req.context + V2 + path, params)
        payload["_links"]["next"] = link
        headers["Link"] = f'<{link}>; rel="next", <{req.base}>; rel="base"'
    return Response(200, payload, headers)


def _visible(page: Page, statuses: set[str]) -> bool:
    return "any" in statuses or page.status in statuses


def handle(req: Request, path: str) -> Response:
    site = req.site
    parts = [p for p in path.split("/") if p]
    with site.lock:
        if parts == ["spaces"]:
            keys, ids = set(req.many("keys")), set(req.many("ids"))
            spaces = [
                s
                for s in sorted(site.spaces.values(), key=lambda s: int(s.space_id))
                if (not keys or s.key in keys) and (not ids or s.space_id in ids)
            ]
            limit = req.limit()
            return Response(200, {"results": [space_json(s) for s in spaces[:limit]], "_links": {"base": req.base}})
        if len(parts) >= 2 and parts[0] == "spaces":
            space = site.space_by_id(parts[1])
            if space is None:
                raise ApiError(404, f"space {parts[1]} not found")
            if len(parts) == 2:
                return Response(200, space_json(space))
            if parts[2:] == ["pages"]:
                statuses = _statuses(req)
                title = req.one("title")
                pages = [
                    p
                    for p in site.pages.values()
                    if p.space_key == space.key
                    and _visible(p, statuses)
                    and (title is None or p.title == title)
                    and (req.one("depth", "all") == "all" or p.parent_id is None)
                ]
                return _page_list(req, path, pages)
        if parts == ["pages"]:
            statuses = _statuses(req)
            ids, space_ids = set(req.many("id")), set(req.many("space-id"))
            pages = [
                p
                for p in site.pages.values()
                if _visible(p, statuses)
                and (not ids or p.page_id in ids)
                and (not space_ids or site.spaces[p.space_key].space_id in space_ids)
            ]
            return _page_list(req, path, pages)
        if len(parts) == 2 and parts[0] == "folders":
            return children.folder(req, parts[1])
        if len(parts) >= 2 and parts[0] == "pages":
            page = site.pages.get(parts[1])
            statuses = set(req.many("status")) or {"current", "archived"}
            if page is None or not _visible(page, statuses):
                raise ApiError(404, f"page {parts[1]} not found")
            if page.restricted:
                raise ApiError(403, f"You do not have permission to view page {parts[1]}")
            if len(parts) == 2:
                item = page_json(req, page, body_format=req.one("body-format"), single=True)
                if req.one("include-labels") == "true":  # the first page only, as Confluence embeds them
                    limit = min(50, site.label_page_size)
                    item["labels"] = {
                        "results": labels_v2(page)[:limit],
                        "meta": {"hasMore": len(page.labels) > limit, "cursor": encode_cursor({"o": limit})},
                        "_links": {"self": f"{req.base}{V2}/pages/{page.page_id}/labels"},
                    }
                return Response(200, item)
            answer = children.handle_v2(req, path, page, parts[2:])
            if answer is not None:
                return answer
            if parts[2:] == ["ancestors"]:
                chain = [{"id": a.page_id, "type": "page"} for a in site.ancestors(page.page_id)]  # top first
                return Response(200, {"results": chain[: req.limit()], "_links": {"base": req.base}})
    raise ApiError(404, f"no such v2 resource: {path}")
