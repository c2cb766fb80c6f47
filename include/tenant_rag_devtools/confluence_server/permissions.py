"""Users, groups, space view permissions and page read restrictions (the model: :mod:`access`) in Confluence's v1
shapes. The indexing account reads every page (pages it may not read are ``FakeConfluence.restrict_page``'s 403).

Served (v1 spec: ``ContentRestriction``, ``SpacePermission``, ``GroupArrayWithLinks``, ``UserArray``):
``content/{id}/restriction/byOperation[/{read|update}]`` (``start``/``limit`` page users and groups alike),
``expand=restrictions.read.restrictions.user,restrictions.read.restrictions.group`` on content answers and listings
(at most ``page_size`` users and groups embedded, as Confluence cuts them), ``space/{key}?expand=permissions``
(none for a space in ``hidden_spaces``: the account is no space admin), ``user/memberof?accountId=`` (Server:
``key``/``username``), ``group/{name}/member`` and ``group/member?name=``.
"""

from __future__ import annotations

import uuid
from typing import Any

from tenant_rag_devtools.confluence_server.access import DEFAULT_GROUP
from tenant_rag_devtools.confluence_server.responses import (
    V1_PATH,
    ApiError,
    Request,
    Response,
    relative_url,
    user_json,
)
from tenant_rag_devtools.confluence_server.site import Page


def group_json(req: Request, name: str) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "group", "name": name}
    if req.flavor == "cloud":
        item["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"group:{name}"))
    item["_links"] = {"self": f"{req.base}{V1_PATH}/group/by-name?name={name}"}
    return item


def _array(items: list[dict[str, Any]], start: int, limit: int) -> dict[str, Any]:
    shown = items[start : start + limit]
    return {"results": shown, "start": start, "limit": limit, "size": len(shown)}


def restriction_json(req: Request, page: Page, operation: str, start: int, limit: int) -> dict[str, Any]:
    """``ContentRestriction``: only ``read`` restrictions are modelled, ``update`` is always empty."""
    users, groups = req.site.permissions.restriction(page.page_id) if operation == "read" else ([], [])
    link = f"{req.base}{V1_PATH}/content/{page.page_id}/restriction/byOperation/{operation}"
    return {
        "operation": operation,
        "restrictions": {
            "user": _array([user_json(req, user) for user in users], start, limit),
            "group": _array([group_json(req, group) for group in groups], start, limit),
        },
        "_expandable": {"content": f"/rest/api/content/{page.page_id}"},
        "_links": {"self": link},
    }


def expand_content(req: Request, page: Page, expand: set[str], item: dict[str, Any]) -> None:
    """Add ``restrictions`` to a v1 content answer when an ``expand`` asks for it (the first page of each)."""
    if not any(name == "restrictions" or name.startswith("restrictions.") for name in expand):
        return
    limit = req.site.permissions.page_size
    item["restrictions"] = {
        "read": restriction_json(req, page, "read", 0, limit),
        "_expandable": {"update": ""},
        "_links": {"self": f"{req.base}{V1_PATH}/content/{page.page_id}/restriction/byOperation"},
    }


def _space_permission(number: int, subjects: dict[str, Any], anonymous: bool = False) -> dict[str, Any]:
    return {
        "id": number,
        "subjects": subjects,
        "operation": {"operation": "read", "targetType": "space"},
        "anonymousAccess": anonymous,
        "unlicensedAccess": False,
    }


def expand_space(req: Request, space_key: str, expand: set[str], item: dict[str, Any]) -> None:
    """Add ``permissions`` (one ``SpacePermission`` a subject, plus a ``create page`` one to skip) when asked for."""
    permissions = req.site.permissions
    if "permissions" not in expand or space_key in permissions.hidden_spaces:
        item.setdefault("_expandable", {})["permissions"] = ""
        return
    viewers = permissions.viewers(space_key)
    found = [_space_permission(1, {"user": {"results": [], "size": 0}}, anonymous=True)] if viewers.anonymous else []
    for user in sorted(viewers.users):
        found.append(_space_permission(len(found) + 1, {"user": {"results": [user_json(req, user)], "size": 1}}))
    for group in sorted(viewers.groups):
        found.append(_space_permission(len(found) + 1, {"group": {"results": [group_json(req, group)], "size": 1}}))
    create = {"group": {"results": [group_json(req, DEFAULT_GROUP)], "size": 1}}
    found.append(
        {**_space_permission(len(found) + 1, create), "operation": {"operation": "create", "targetType": "page"}}
    )
    item["permissions"] = found


def _paged(req: Request, path: str, items: list[dict[str, Any]]) -> Response:
    """Offset pagination with ``_links.next`` (``GroupArrayWithLinks``; ``UserArray`` likewise)."""
    limit = req.limit(200, 1000)
    start = int(req.one("start", "0") or 0)
    payload = _array(items, start, limit)
    params = {k: v for k, v in req.query.items() if k not in ("start", "limit")}
    links = {"base": req.base, "context": req.context, "self": req.base + relative_url(V1_PATH + path, params)}
    if start + limit < len(items):
        links["next"] = relative_url(V1_PATH + path, {**params, "limit": [str(limit)], "start": [str(start + limit)]})
    payload["_links"] = links
    return Response(200, payload)


def handle_v1(req: Request, parts: list[str]) -> Response | None:
    """Answer the permission routes (``parts``: the path under ``/rest/api``); None for any other route."""
    site, path = req.site, "/" + "/".join(parts)
    if len(parts) in (4, 5) and parts[0] == "content" and parts[2:4] == ["restriction", "byOperation"]:
        page = site.pages.get(parts[1])
        if page is None or page.status == "trashed":
            raise ApiError(404, f"No content found with id : {parts[1]}")
        if page.restricted:
            raise ApiError(403, f"Could not view content with id : {parts[1]}: permission denied")
        start, limit = int(req.one("start", "0") or 0), req.limit(100, 200)
        if len(parts) == 5:
            if parts[4] not in ("read", "update"):
                raise ApiError(400, f"unknown operation {parts[4]!r}")
            return Response(200, restriction_json(req, page, parts[4], start, limit))
        answer = {op: restriction_json(req, page, op, start, limit) for op in ("read", "update")}
        return Response(200, {**answer, "_links": {"self": f"{req.base}{V1_PATH}{path}"}})
    if parts == ["user", "memberof"]:
        user = req.one("accountId") or req.one("key") or req.one("username") or ""
        if user not in site.users:
            raise ApiError(404, f"No user found with key : {user}")
        return _paged(req, path, [group_json(req, name) for name in site.permissions.member_of(user)])
    if (len(parts) == 3 and parts[0] == "group" and parts[2] == "member") or parts == ["group", "member"]:
        name = parts[1] if len(parts) == 3 else req.one("name") or ""
        members = site.permissions.members(name)
        if members is None:
            raise ApiError(404, f"No group found with name : {name}")
        return _paged(req, path, [user_json(req, user) for user in members])
    return None
