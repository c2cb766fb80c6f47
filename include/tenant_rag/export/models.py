"""Plain data the Confluence client hands to the exporter, independent of API version and flavour."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class ConfluenceCredentials:
    """Cloud: ``username`` (e-mail) + ``api_token`` (basic auth). Server/DC: ``bearer_token`` (a PAT)."""

    username: str | None = None
    api_token: str | None = None
    bearer_token: str | None = None

    def __repr__(self) -> str:  # never print secrets
        return f"ConfluenceCredentials(username={self.username!r}, api_token=***, bearer_token=***)"


@dataclass(frozen=True)
class SpaceInfo:
    key: str
    space_id: str
    name: str


@dataclass(frozen=True)
class PageSummary:
    """One row of the cheap id-only listing: enough for the tree, the layout and the version gate."""

    page_id: str
    title: str
    parent_id: str | None
    version: int
    space_key: str
    status: str = "current"
    last_modified: datetime | None = None
    parent_type: str = "page"  # Cloud: page, folder, whiteboard, database or embed


@dataclass(frozen=True)
class TreeContainer:
    """A Cloud folder (or whiteboard, database, embed) pages sit under: part of the tree, never exported."""

    container_id: str
    kind: str
    title: str
    parent_id: str | None
    parent_type: str | None


@dataclass(frozen=True)
class AttachmentInfo:
    """One file attached to a page, from the space's attachment listing (no download yet)."""

    attachment_id: str
    page_id: str
    file_name: str
    version: int
    media_type: str
    file_size: int | None
    download_url: str
    last_modified: datetime | None = None


@dataclass(frozen=True)
class Comment:
    comment_id: str
    author: str | None
    created: datetime | None
    storage: str


@dataclass(frozen=True)
class PageContent:
    page_id: str
    title: str
    space_key: str
    parent_id: str | None
    version: int
    last_modified: datetime | None
    storage: str
    labels: tuple[str, ...]
    url: str | None


def parse_time(value: object) -> datetime | None:
    """Confluence timestamps (``2024-03-05T10:00:00.000Z`` and friends) as aware UTC datetimes."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def iso_utc(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
