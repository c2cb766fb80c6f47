"""The in-memory Confluence site the local server serves: spaces, a page tree with versions and labels, users,
attachments (with their bytes), footer comments and Cloud folders.

Times are UTC; a deleted page goes to the trash (status ``trashed``) and its children move up to its parent, as
in Confluence. Every change bumps the page's version and last-modified time (injectable for tests).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tenant_rag_devtools.confluence_server.access import SitePermissions


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
    parent_type: str = "page"  # or "folder" (Cloud)
    content_type: str = "page"  # what CQL ``type`` matches
    subtype: str | None = None  # v2 ``subtype``: "live" for a live doc, else null


@dataclass
class Folder:
    """A Cloud folder: a node of the page tree without a body."""

    folder_id: str
    space_key: str
    title: str
    parent_id: str | None
    parent_type: str | None
    created_at: datetime


@dataclass
class Attachment:
    """A file on a page. Field names follow ``Page`` where CQL reads them (``page_id`` is the content id)."""

    page_id: str  # the attachment id, "att..."
    container_id: str
    space_key: str
    title: str  # the file name
    media_type: str
    data: bytes
    created_at: datetime
    last_modified: datetime
    version: int = 1
    status: str = "current"
    labels: list[str] = field(default_factory=list)
    restricted: bool = False
    content_type: str = "attachment"

    @property
    def parent_id(self) -> str:
        return self.container_id


@dataclass
class Comment:
    page_id: str  # the comment id
    container_id: str
    space_key: str
    storage: str
    author_id: str
    created_at: datetime
    last_modified: datetime
    location: str = "footer"  # or "inline"
    version: int = 1
    status: str = "current"
    labels: list[str] = field(default_factory=list)
    restricted: bool = False
    content_type: str = "comment"

    @property
    def title(self) -> str:
        return f"Re: comment {self.page_id}"

    @property
    def parent_id(self) -> str:
        return self.container_id


@dataclass
class Site:
    """Thread-safe model; the HTTP layer only reads it under ``lock``."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    spaces: dict[str, Space] = field(default_factory=dict)
    pages: dict[str, Page] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)
    folders: dict[str, Folder] = field(default_factory=dict)
    attachments: dict[str, Attachment] = field(default_factory=dict)
    comments: dict[str, Comment] = field(default_factory=dict)
    permissions: SitePermissions = field(default_factory=SitePermissions)  # groups, space viewers, restrictions
    label_page_size: int = 200  # labels embedded in a page answer (v2: at most 50) and the most a label page holds
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
            if parent_id is not None and parent_id not in self.pages and parent_id not in self.folders:
                raise KeyError(f"no parent page or folder {parent_id!r}")
            if page_id is None:
                page_id = self.new_id()
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
                parent_type="folder" if parent_id in self.folders else "page",
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
                page.parent_type = "folder" if parent_id in self.folders else "page"
            if storage is not None:
                page.storage = storage
            if title is not None:
                page.title = title
            if labels is not None:
                page.labels = list(labels)
            page.version += 1
            page.last_modified = modified_at or utc_now()

    def new_id(self) -> str:
        """A fresh content id (pages, folders, attachments and comments share one sequence, as in Confluence)."""
        with self.lock:
            taken = self.pages.keys() | self.folders.keys() | self.attachments.keys() | self.comments.keys()
            while str(self.next_page_id) in taken or f"att{self.next_page_id}" in taken:
                self.next_page_id += 1
            self.next_page_id += 1
            return str(self.next_page_id - 1)

    def add_folder(self, space_key: str, title: str, *, parent_id: str | None = None) -> str:
        with self.lock:
            parent_type = None if parent_id is None else "folder" if parent_id in self.folders else "page"
            if parent_id is not None and parent_id not in self.pages and parent_id not in self.folders:
                raise KeyError(f"no parent page or folder {parent_id!r}")
            folder_id = self.new_id()
            self.folders[folder_id] = Folder(folder_id, space_key, title, parent_id, parent_type, utc_now())
            return folder_id

    def put_attachment(self, page_id: str, file_name: str, data: bytes, media_type: str) -> str:
        """Attach a file, or upload a new version of the page's file of that name (its version goes up)."""
        with self.lock:
            page = self.pages[page_id]
            now = utc_now()
            for found in self.attachments.values():
                if found.container_id == page_id and found.title == file_name and found.status == "current":
                    found.data, found.media_type, found.last_modified = data, media_type, now
                    found.version += 1
                    return found.page_id
            attachment_id = "att" + self.new_id()
            self.attachments[attachment_id] = Attachment(
                attachment_id, page_id, page.space_key, file_name, media_type, data, now, now
            )
            return attachment_id

    def add_comment(self, page_id: str, storage: str, *, author_id: str, location: str = "footer") -> str:
        with self.lock:
            page, now = self.pages[page_id], utc_now()
            comment_id = self.new_id()
            self.comments[comment_id] = Comment(
                comment_id, page_id, page.space_key, storage, author_id, now, now, location
            )
            return comment_id

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
