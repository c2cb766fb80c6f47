"""Confluence REST v1 on the local server (Cloud under ``/wiki/rest/api``, Server/DC under ``/rest/api``).

``content`` (offset pagination), ``content/{id}`` (its ``child/attachment``, ``child/comment`` and ``label`` in
:mod:`children`), ``content/search`` (pages, attachments and comments) (CQL in the user's time zone; cursor ``next``
links on Cloud, offset on Server), ``space/{key}``, ``user`` and ``user/current`` (Cloud adds ``timeZone``).
Content objects carry what the recorded Cloud responses carry: ``id``,
``type``, ``status``, ``title``, and for each ``expand`` asked for (``space``, ``version``, ``ancestors``,
from tenant_rag_devtools.confluence_server import bodies, children, permissions
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from tenant_rag_devtools.confluence_server import bodies, children, permissions
from tenant_rag_devtools.confluence_server.cql import CqlError, compile_cql
from tenant_rag_devtools.confluence_server.responses import (
    V1_PATH,
    ApiError,
    Request,
    Response,
    decode_cursor,
    encode_cursor,
    iso,
    relative_url,
    tinyui,
    user_json,
    webui,
)
from tenant_rag_devtools.confluence_server.site import Attachment, Comment, Page, Site, Space

V1 = V1_PATH
_EXPANDABLE = (
    "childTypes",
    "container",
    "metadata",
    "operations",
    "children",
    "restrictions",
    "history",
    "ancestors",
    "body",
    "version",
    "descendants",
    "space",
)


def _current_user(req: Request) -> dict[str, Any]:
    """``GET user/current``: the account the credentials belong to; Cloud's ``User`` carries ``timeZone``."""
    user = user_json(req, "557058:indexing-user" if req.flavor == "cloud" else "indexer")
    user.update(displayName="Indexing User", publicName="Indexing User")
    user["_links"]["self"] = f"{req.base}{V1}/user/current"
    if req.flavor == "cloud":
        user["timeZone"] = req.cql_timezone if req.share_user_timezone else None
    return user


def space_json(req: Request, space: Space) -> dict[str, Any]:
    return {
        "id": int(space.space_id),
        "key": space.key,
        "name": space.name,
        "type": space.space_type,
        "status": "current",
        "_expandable": {
            "settings": f"/rest/api/space/{space.key}/settings",
            "metadata": "",
            "operations": "",
            "description": "",
            "homepage": "",
            "icon": "",
            "history": "",
        },
        "_links": {
            "webui": f"/spaces/{space.key}" if req.flavor == "cloud" else f"/display/{space.key}",
            "self": f"{req.base}{V1}/space/{space.key}",
        },
    }


def content_json(req: Request, page: Page, expand: set[str]) -> dict[str, Any]:
    site, base = req.site, req.base
    item: dict[str, Any] = {"id": page.page_id, "type": "page", "status": page.status, "title": page.title}
    expandable = {name: "" for name in _EXPANDABLE}
    if "space" in expand:
        item["space"] = space_json(req, site.spaces[page.space_key])
    version = {
        "by": user_json(req, page.author_id),
        "when": iso(page.last_modified),
        "friendlyWhen": page.last_modified.strftime("%b %d, %Y"),
        "message": "",
        "number": page.version,
        "minorEdit": False,
        "_links": {"self": f"{base}{V1}/content/{page.page_id}/version/{page.version}"},
    }
    if "history" in expand or "history.lastUpdated" in expand:
        history: dict[str, Any] = {
            "latest": page.status == "current",
            "createdBy": user_json(req, page.author_id),
            "createdDate": iso(page.created_at),
        }
        later = dict.fromkeys(("lastUpdated", "previousVersion", "contributors", "nextVersion"), "")
        if "history.lastUpdated" in expand:
            history["lastUpdated"] = version
            later.pop("lastUpdated")
        history["_expandable"] = later
        history["_links"] = {"self": f"{base}{V1}/content/{page.page_id}/history"}
        item["history"] = history
    if "version" in expand:
        item["version"] = version
    if "ancestors" in expand:
        item["ancestors"] = [
            {
                "id": a.page_id,
                "type": "page",
                "status": a.status,
                "title": a.title,
                "_links": {"self": f"{base}{V1}/content/{a.page_id}", "webui": webui(a, req.flavor)},
            }
            for a in site.ancestors(page.page_id)
        ]
    asked = [name for name in bodies.REPRESENTATIONS if f"body.{name}" in expand]
    if asked or "body" in expand:
        kinds = ("storage", "view", "atlas_doc_format", "export_view", "styled_view", "editor", "dynamic")
        item["body"] = {"_expandable": {name: "" for name in kinds if name not in asked}}
        for name in asked:
            item["body"][name] = {
                "value": bodies.render(page.storage, name),
                "representation": name,
                **({"embeddedContent": []} if name == "storage" else {}),
                "_expandable": {"content": f"/rest/api/content/{page.page_id}"},
            }
    if "metadata.labels" in expand:  # the first page of labels only, as Confluence embeds them
        limit = site.label_page_size
        labels = children.labels_v1(sorted(page.labels))
        links = {"self": f"{base}{V1}/content/{page.page_id}/label"}
        if len(labels) > limit:
            links["next"] = f"{V1}/content/{page.page_id}/label?next=true&limit={limit}&start={limit}"
        item["metadata"] = {
            "labels": {
                "results": labels[:limit],
                "start": 0,
                "limit": limit,
                "size": min(limit, len(labels)),
                "_links": links,
            }
        }
    item["extensions"] = {"position": page.position}
    permissions.expand_content(req, page, expand, item)
    for name in ("space", "history", "version", "ancestors", "body", "metadata", "restrictions"):
        if name in item:
            expandable.pop(name, None)
    item["_expandable"] = expandable
    item["_links"] = {
        "self": f"{base}{V1}/content/{page.page_id}",
        "tinyui": tinyui(page.page_id),
        "editui": f"/pages/resumedraft.action?draftId={page.page_id}",
        "webui": webui(page, req.flavor),
    }
    return item


def _expand(req: Request) -> set[str]:
    return set(req.many("expand"))


def _offset_list(req: Request, path: str, pages: list[Page], *, cursor_links: bool = False) -> Response:
    limit = req.limit(25, 1000)
    cursor = req.one("cursor")
    start = int(decode_cursor(cursor).get("o", 0)) if cursor else int(req.one("start", "0") or 0)
    window = pages[start : start + limit]
    expand = _expand(req)
    params = {k: v for k, v in req.query.items() if k not in ("start", "cursor", "next")}
    links = {"base": req.base, "context": req.context, "self": req.base + relative_url(V1 + path, params)}
    if start + limit < len(pages):
        extra = (
            {"next": ["true"], "cursor": [encode_cursor({"o": start + limit})]} if cursor_links else {"next": ["true"]}
        )
        links["next"] = relative_url(
            V1 + path, {**extra, **params, "limit": [str(limit)], "start": [str(start + limit)]}
        )
    results = [_any_json(req, p, expand) for p in window]
    return Response(200, {"results": results, "start": start, "limit": limit, "size": len(results), "_links": links})


def _any_json(req: Request, item: Page | Attachment | Comment, expand: set[str]) -> dict[str, Any]:
    if isinstance(item, Attachment):
        return children.attachment_v1(req, item, expand)
    if isinstance(item, Comment):
        return children.comment_v1(req, item, expand)
    return content_json(req, item, expand)


def _searchable(site: Site) -> list[Page | Attachment | Comment]:
    """Current pages the user may see, and the attachments and comments on them (what CQL search covers)."""
    pages: list[Page | Attachment | Comment] = [
        p for p in site.pages.values() if p.status == "current" and not p.restricted
    ]
    visible = {p.page_id for p in pages}
    extras: list[Attachment | Comment] = [*site.attachments.values(), *site.comments.values()]
    pages.extend(extra for extra in extras if extra.status == "current" and extra.container_id in visible)
    return pages


def _sorted(pages: list[Any]) -> list[Any]:
    return sorted(pages, key=lambda p: (len(p.page_id), p.page_id))


def handle(req: Request, path: str) -> Response:
    site = req.site
    parts = [p for p in path.split("/") if p]
    with site.lock:
        answer = permissions.handle_v1(req, parts)
        if answer is not None:
            return answer
        if parts == ["content"]:
            statuses = set(req.many("status")) or {"current"}
            kind, key, title = req.one("type", "page"), req.one("spaceKey"), req.one("title")
            pages = [
                p
                for p in site.pages.values()
                if kind == "page"
                and (key is None or p.space_key == key)
                and ("any" in statuses or p.status in statuses)
                and (title is None or p.title == title)
            ]
            return _offset_list(req, path, _sorted(pages))
        if parts == ["content", "search"]:
            query = req.one("cql")
            if not query:
                raise ApiError(400, "cql parameter is required")
            zone = ZoneInfo(req.cql_timezone)
            try:
                predicate = compile_cql(query, site, zone)
            except CqlError as exc:
                raise ApiError(400, f"Could not parse cql : {query} ({exc})") from exc
            found = [p for p in _searchable(site) if predicate(p)]  # type: ignore[arg-type]
            return _offset_list(req, path, _sorted(found), cursor_links=req.flavor == "cloud")
        if len(parts) > 2 and parts[0] == "content" and parts[1] in site.pages:
            parent = site.pages[parts[1]]
            if parent.restricted:
                raise ApiError(403, f"Could not view content with id : {parts[1]}: permission denied")
            answer = children.handle_v1(req, path, parent, parts[2:])
            if answer is not None:
                return answer
        if len(parts) == 2 and parts[0] == "content":
            page = site.pages.get(parts[1])
            statuses = set(req.many("status")) or {"current", "archived"}
            if page is None or not ("any" in statuses or page.status in statuses):
                raise ApiError(404, f"No content found with id : {parts[1]}")
            if page.restricted:
                raise ApiError(403, f"Could not view content with id : {parts[1]}: permission denied")
            return Response(200, content_json(req, page, _expand(req)))
        if len(parts) == 2 and parts[0] == "space":
            space = site.spaces.get(parts[1])
            if space is None:
                raise ApiError(404, f"No space with key : {parts[1]}")
            item = space_json(req, space)
            permissions.expand_space(req, space.key, _expand(req), item)
            return Response(200, item)
        if parts == ["user", "current"]:
            return Response(200, _current_user(req))
        if parts == ["user"]:
            user_id = req.one("accountId") or req.one("key") or req.one("username") or ""
            if user_id not in site.users:
                raise ApiError(404, f"No user found with key : {user_id}")
            return Response(200, user_json(req, user_id))
    raise ApiError(404, f"no such v1 resource: {path}")
