"""Read who may read each page from Confluence, cheaply, for every run (REST v1: Cloud and Server/DC alike).

Per space: its view permissions, one ``GET space/{key}?expand=permissions`` (the ``read``/``space`` entries' users
and groups; ``anonymousAccess``), and every page's own read restriction, one CQL listing (``space = KEY AND type =
page``) with ``expand=restrictions.read.restrictions.user,restrictions.read.restrictions.group``, which carries them
with the listing. Only a page the listing does not return (archived pages) or whose embedded users or groups are cut
short is asked on its own: ``content/{id}/restriction/byOperation/read``, paged. Group memberships
(``user/memberof``, ``group/{name}/member``) are asked only for restricted pages, once per user or group per run.
:func:`tenant_rag.permissions.effective_readers` then applies the inheritance rule down each page's ancestor chain
(Cloud folders pass it through: their own restrictions are not read).

Nothing here stops a run but a 401: a space whose permissions cannot be read (the indexing account may need space
admin rights to see them), or a page whose restriction or a needed membership cannot be read, gets unknown readers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from tenant_rag.export import cql
from tenant_rag.export.client import ConfluenceClient
from tenant_rag.export.errors import ConfluenceAuthError, ConfluenceHTTPError
from tenant_rag.export.models import SpaceInfo
from tenant_rag.export.planning import SpacePlan
from tenant_rag.permissions import UNKNOWN, PermissionsUnreadable, Principals, Readers, effective_readers

log = logging.getLogger(__name__)
READ_EXPAND = "restrictions.read.restrictions.user,restrictions.read.restrictions.group"
RESTRICTION_PAGE_SIZE = 200
NO_RESTRICTION = Principals()


def user_id(user: dict[str, Any]) -> str | None:
    """A user's identity: Cloud's ``accountId``, Server/DC's ``userKey`` (else ``username``)."""
    value = user.get("accountId") or user.get("userKey") or user.get("username")
    return str(value) if value else None


@contextmanager
def _unreadable_as(what: str) -> Iterator[None]:
    """A failed request other than 401 becomes ``PermissionsUnreadable`` naming ``what``; 401 stops the run."""
    try:
        yield
    except ConfluenceAuthError as exc:
        if exc.status == 401:
            raise
        raise PermissionsUnreadable(f"{what}: {exc}") from exc
    except ConfluenceHTTPError as exc:
        raise PermissionsUnreadable(f"{what}: {exc}") from exc


def _get(client: ConfluenceClient, url: str, params: dict[str, Any], what: str) -> dict[str, Any]:
    """GET JSON (see ``_unreadable_as``)."""
    with _unreadable_as(what):
        payload, _ = client.http.get_json(url, params)
    return dict(payload)


def _paged(client: ConfluenceClient, url: str, params: dict[str, Any], what: str) -> Iterator[dict[str, Any]]:
    with _unreadable_as(what):
        yield from client.paginate(url, params)


def _cut_short(array: dict[str, Any]) -> bool:
    """An embedded user or group array that holds only its first page."""
    results = array.get("results") or []
    limit = int(array.get("limit") or 0)
    total = array.get("totalSize")
    more = isinstance(total, int) and total > len(results)
    return bool((array.get("_links") or {}).get("next")) or more or bool(limit and len(results) >= limit)


def _restriction(restrictions: object) -> Principals | None:
    """The principals of an expanded ``ContentRestriction.restrictions``; None when not expanded or cut short."""
    if not isinstance(restrictions, dict):
        return None
    users, groups = restrictions.get("user"), restrictions.get("group")
    if not isinstance(users, dict) or not isinstance(groups, dict) or _cut_short(users) or _cut_short(groups):
        return None
    return Principals(
        users=frozenset(uid for uid in map(user_id, users.get("results") or []) if uid),
        groups=frozenset(str(g["name"]) for g in groups.get("results") or [] if g.get("name")),
    )


def space_viewers(client: ConfluenceClient, space: SpaceInfo) -> Principals:
    """Users and groups with the space's view permission (``read`` on ``space``); raises ``PermissionsUnreadable``."""
    item = _get(client, f"{client.v1}/space/{quote(space.key)}", {"expand": "permissions"}, f"space {space.key}")
    permissions = item.get("permissions")
    if not isinstance(permissions, list):
        raise PermissionsUnreadable(f"space {space.key}: the answer carries no permissions (space admin needed?)")
    users: set[str] = set()
    groups: set[str] = set()
    anonymous = False
    for permission in permissions:
        operation = permission.get("operation") or {}
        if (operation.get("operation"), operation.get("targetType")) != ("read", "space"):
            continue
        anonymous |= bool(permission.get("anonymousAccess"))
        subjects = permission.get("subjects") or {}
        users.update(uid for uid in map(user_id, (subjects.get("user") or {}).get("results") or []) if uid)
        groups.update(str(g["name"]) for g in (subjects.get("group") or {}).get("results") or [] if g.get("name"))
    return Principals(frozenset(users), frozenset(groups), anonymous)


def read_restriction(client: ConfluenceClient, page_id: str) -> Principals:
    """One page's own read restriction, paged (``start``/``limit`` apply to users and groups alike)."""
    url = f"{client.v1}/content/{page_id}/restriction/byOperation/read"
    users: set[str] = set()
    groups: set[str] = set()
    start = 0
    while True:
        params = {"expand": "restrictions.user,restrictions.group", "start": start, "limit": RESTRICTION_PAGE_SIZE}
        answer = _get(client, url, params, f"read restriction of page {page_id}")
        found = answer.get("restrictions") or {}
        page_users = (found.get("user") or {}).get("results") or []
        page_groups = (found.get("group") or {}).get("results") or []
        users.update(uid for uid in map(user_id, page_users) if uid)
        groups.update(str(g["name"]) for g in page_groups if g.get("name"))
        if max(len(page_users), len(page_groups)) < RESTRICTION_PAGE_SIZE:
            return Principals(frozenset(users), frozenset(groups))
        start += RESTRICTION_PAGE_SIZE


def page_restrictions(client: ConfluenceClient, space: SpaceInfo, page_ids: set[str]) -> dict[str, Principals | None]:
    """Each page's own read restriction (``NO_RESTRICTION`` when it has none; None when it cannot be read)."""
    found: dict[str, Principals | None] = {}
    params = {"cql": cql.space_pages(space.key), "limit": client.page_size, "expand": READ_EXPAND}
    log.info("CQL search (read restrictions): %s", params["cql"])
    for item in _paged(client, f"{client.v1}/content/search", params, f"read restrictions of space {space.key}"):
        page_id = str(item.get("id"))
        if page_id in page_ids:
            read = ((item.get("restrictions") or {}).get("read") or {}).get("restrictions")
            found[page_id] = _restriction(read)
    for page_id in sorted(page_ids):
        if found.get(page_id) is None:  # not in the listing (archived), or its users or groups were cut short
            try:
                found[page_id] = read_restriction(client, page_id)
            except PermissionsUnreadable as exc:
                log.warning("space %s: %s; the page's readers are unknown", space.key, exc)
                found[page_id] = None
    return found


class Membership:
    """Group memberships asked of the site once per user or group per run (``user/memberof``,
    ``group/{name}/member``); a failed lookup raises ``PermissionsUnreadable`` each time it is needed."""

    def __init__(self, client: ConfluenceClient) -> None:
        self.client = client
        self._groups: dict[str, frozenset[str] | None] = {}
        self._members: dict[str, frozenset[str] | None] = {}

    def groups_of(self, user: str) -> frozenset[str]:
        if user not in self._groups:
            params = {**self.client._user_params(user), "start": 0, "limit": self.client.page_size}
            url = f"{self.client.v1}/user/memberof"
            try:
                items = _paged(self.client, url, params, f"groups of user {user}")
                self._groups[user] = frozenset(str(g["name"]) for g in items if g.get("name"))
            except PermissionsUnreadable:
                self._groups[user] = None
        return _known(self._groups[user], f"groups of user {user}")

    def members_of(self, group: str) -> frozenset[str]:
        if group not in self._members:
            url = f"{self.client.v1}/group/{quote(group, safe='')}/member"
            try:
                items = _paged(self.client, url, {"start": 0, "limit": self.client.page_size}, f"group {group}")
                self._members[group] = frozenset(uid for uid in map(user_id, items) if uid)
            except PermissionsUnreadable:
                self._members[group] = None
        return _known(self._members[group], f"members of group {group}")


def _known(value: frozenset[str] | None, what: str) -> frozenset[str]:
    if value is None:
        raise PermissionsUnreadable(f"{what} could not be read")
    return value


def _chain(page_id: str, parents: dict[str, str | None]) -> Iterator[str]:
    """The page, then its ancestors up to the top (cycle-safe)."""
    seen: set[str] = set()
    node: str | None = page_id
    while node is not None and node not in seen:
        seen.add(node)
        yield node
        node = parents.get(node)


def plan_readers(client: ConfluenceClient, plan: SpacePlan, membership: Membership) -> dict[str, Readers]:
    """The readers of every page in the plan's scope (its ancestors' restrictions are read even out of scope)."""
    space = plan.space
    try:
        viewers = space_viewers(client, space)
    except PermissionsUnreadable as exc:
        log.warning("space %s: %s; its pages' readers are unknown", space.key, exc)
        return dict.fromkeys(plan.scope, UNKNOWN)
    parents = {pid: page.parent_id for pid, page in plan.listing.items()}
    parents.update({cid: container.parent_id for cid, container in plan.containers.items()})
    chains = {pid: [node for node in _chain(pid, parents) if node in plan.listing] for pid in plan.scope}
    try:
        own = page_restrictions(client, space, {node for chain in chains.values() for node in chain})
    except PermissionsUnreadable as exc:
        log.warning("space %s: %s; its pages' readers are unknown", space.key, exc)
        return dict.fromkeys(plan.scope, UNKNOWN)
    readers: dict[str, Readers] = {}
    for page_id, chain in sorted(chains.items()):
        restrictions = [own.get(node) for node in chain]
        try:
            if any(restriction is None for restriction in restrictions):
                raise PermissionsUnreadable("a read restriction on its ancestor chain could not be read")
            known = [restriction for restriction in restrictions if restriction is not None]
            readers[page_id] = effective_readers(viewers, known, membership.groups_of, membership.members_of)
        except PermissionsUnreadable as exc:
            log.warning("space %s: page %s: %s; its readers are unknown", space.key, page_id, exc)
            readers[page_id] = UNKNOWN
    return readers
