"""The in-memory Confluence site the local server serves: spaces, a page tree with versions and labels, users.

Times are UTC; a deleted page goes to the trash (status ``trashed``) and its children move up to its parent, as
in Confluence. Every change bumps the page's version and last-modified time (injectable for tests).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime


def utc_now() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@dataclass
class Space:
    space_id: str
    key: str
    name: str
    created_at: datetime
    homepage_id: str | None = None
    space_type: str = "global"


@dataclass
class Page:
    page_id: str
    space_key: str
    title: str
    storage: str
    parent_id: str | None
    labels: list[str]
    status: str
    created_at: datetime
    last_modified: datetime
    version: int = 1
    position: int = 0
    author_id: str = "557058:0f1d2c3b-demo-author"
    restricted: bool = False  # listed, but reading it answers 403 and CQL search leaves it out


@dataclass
class Site:
    """Thread-safe model; the HTTP layer only reads it under ``lock``."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    spaces: dict[str, Space] = field(default_factory=dict)
    pages: dict[str, Page] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)
    next_page_id: int = 327681
    next_space_id: int = 98305

    def add_space(self, key: str, name: str) -> Space:
        with self.lock:
            if key in self.spaces:
                raise ValueError(f"space {key!r} already exists")
            space = Space(str(self.next_space_id), key, name, utc_now())
            self.next_space_id += 1
            self.spaces[key] = space
            return space

    def add_page(
        self,
        space_key: str,
        title: str,
        storage: str,
        *,
        parent_id: str | None = None,
        labels: list[str] | tuple[str, ...] = (),
        page_id: str | None = None,
        status: str = "current",
        modified_at: datetime | None = None,
    ) -> str:
        with self.lock:
            if space_key not in self.spaces:
                raise KeyError(f"no space {space_key!r}")
            if parent_id is not None and self.pages.get(parent_id, None) is None:
                raise KeyError(f"no parent page {parent_id!r}")
            if page_id is None:
                while str(self.next_page_id) in self.pages:
                    self.next_page_id += 1
                page_id = str(self.next_page_id)
                self.next_page_id += 1
            if page_id in self.pages:
                raise ValueError(f"page id {page_id!r} is taken")
            when = modified_at or utc_now()
            siblings = [p for p in self.pages.values() if p.parent_id == parent_id and p.space_key == space_key]
            self.pages[page_id] = Page(
                page_id,
                space_key,
                title,
                storage,
                parent_id,
                list(labels),
                status,
                when,
                when,
                position=len(siblings),
            )
            space = self.spaces[space_key]
            if space.homepage_id is None and parent_id is None:
                space.homepage_id = page_id
            return page_id

    def update_page(
        self,
        page_id: str,
        *,
        storage: str | None = None,
        title: str | None = None,
        parent_id: str | None = None,
        labels: list[str] | None = None,
        modified_at: datetime | None = None,
    ) -> None:
        with self.lock:
            page = self.pages[page_id]
            if parent_id is not None:
                if parent_id == page_id or page_id in self.ancestors(parent_id):
                    raise ValueError(f"cannot move page {page_id} below itself")
                page.parent_id = parent_id or None
            if storage is not None:
                page.storage = storage
            if title is not None:
                page.title = title
            if labels is not None:
                page.labels = list(labels)
            page.version += 1
            page.last_modified = modified_at or utc_now()

    def move_to_root(self, page_id: str, *, modified_at: datetime | None = None) -> None:
        with self.lock:
            self.pages[page_id].parent_id = None
            self.update_page(page_id, modified_at=modified_at)

    def delete_page(self, page_id: str) -> None:
        with self.lock:
            page = self.pages[page_id]
            page.status = "trashed"
            for child in self.pages.values():
                if child.parent_id == page_id:
                    child.parent_id = page.parent_id

    def ancestors(self, page_id: str) -> list[Page]:
        """Root first, like the REST API's ``ancestors``."""
        with self.lock:
            chain: list[Page] = []
            seen = {page_id}
            current = self.pages[page_id].parent_id if page_id in self.pages else None
            while current and current in self.pages and current not in seen:
                seen.add(current)
                chain.append(self.pages[current])
                current = self.pages[current].parent_id
            return list(reversed(chain))

    def space_by_id(self, space_id: str) -> Space | None:
        return next((s for s in self.spaces.values() if s.space_id == space_id), None)

    def pages_sorted(self) -> list[Page]:
        with self.lock:
            return sorted(self.pages.values(), key=lambda p: (len(p.page_id), p.page_id))
