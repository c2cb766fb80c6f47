"""Who may see what on the local server's site: groups and their members, space view permissions and page read
restrictions. Served in Confluence's shapes by :mod:`permissions`; ``FakeConfluence.permissions`` is this object.

Every user added with ``FakeConfluence.add_user`` joins ``confluence-users`` (the default product-access group),
and a space's viewers default to that group. A read restriction applies to its page and the whole subtree, as in
Confluence; like Confluence, only each page's own restriction is stored (clients walk the ancestors). None of it
changes page versions.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

DEFAULT_GROUP = "confluence-users"


@dataclass
class ViewPermission:
    users: set[str] = field(default_factory=set)
    groups: set[str] = field(default_factory=lambda: {DEFAULT_GROUP})
    anonymous: bool = False


@dataclass
class SitePermissions:
    """Thread-safe: the test thread changes it while the server thread reads it."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    groups: dict[str, set[str]] = field(default_factory=lambda: {DEFAULT_GROUP: set()})
    spaces: dict[str, ViewPermission] = field(default_factory=dict)
    restrictions: dict[str, tuple[set[str], set[str]]] = field(default_factory=dict)  # page id -> (users, groups)
    hidden_spaces: set[str] = field(default_factory=set)
    page_size: int = 200  # users (and groups) a restriction embeds in a content answer, and a page's most

    def add_group(self, name: str, members: tuple[str, ...] | list[str] = ()) -> None:
        with self.lock:
            self.groups.setdefault(name, set()).update(members)

    def join(self, group: str, user: str) -> None:
        self.add_group(group, [user])

    def leave(self, group: str, user: str) -> None:
        with self.lock:
            self.groups.get(group, set()).discard(user)

    def set_space_viewers(
        self, space_key: str, *, users: tuple[str, ...] = (), groups: tuple[str, ...] = (), anonymous: bool = False
    ) -> None:
        with self.lock:
            self.spaces[space_key] = ViewPermission(set(users), set(groups), anonymous)

    def set_read_restriction(self, page_id: str, *, users: tuple[str, ...] = (), groups: tuple[str, ...] = ()) -> None:
        """Restrict reading the page (and so its subtree) to these users and groups; none removes the restriction."""
        with self.lock:
            if users or groups:
                self.restrictions[page_id] = (set(users), set(groups))
            else:
                self.restrictions.pop(page_id, None)

    def viewers(self, space_key: str) -> ViewPermission:
        with self.lock:
            found = self.spaces.get(space_key) or ViewPermission()
            return ViewPermission(set(found.users), set(found.groups), found.anonymous)

    def restriction(self, page_id: str) -> tuple[list[str], list[str]]:
        with self.lock:
            users, groups = self.restrictions.get(page_id, (set(), set()))
            return sorted(users), sorted(groups)

    def member_of(self, user: str) -> list[str]:
        with self.lock:
            return sorted(name for name, members in self.groups.items() if user in members)

    def members(self, group: str) -> list[str] | None:
        with self.lock:
            found = self.groups.get(group)
            return None if found is None else sorted(found)
