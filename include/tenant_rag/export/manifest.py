"""The export manifest, ``<customer>/cache/export_manifest.json``: what the export tree holds, per space.

Page id -> version, path (relative to ``exports/``), last modified, title, parent, breadcrumbs, labels, who may
read it (``readers``, as in its front matter) and the pages its body links to and the comments it holds; per
space, the attachments (id, page, version, size, type, the document or why there is none, its page's readers);
plus, per space, the pages the last run could not read (``unreadable``: id, title,
HTTP status, reason and what was done with the page). Re-runs skip pages whose version did not change; a changed
link target or ancestor re-renders the pages that depend on it. Written atomically. A missing or unreadable
manifest is rebuilt from the front matter of the files in the export tree, so losing it never forces a full
re-download.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tenant_rag.documents import PageFormatError, iter_page_files, read_page
from tenant_rag.fsutil import atomic_write_json

log = logging.getLogger(__name__)
MANIFEST_FORMAT = 1
CONVERTER_VERSION = 2  # bump when the Markdown output changes: full runs then re-render every page


@dataclass
class ManifestEntry:
    page_id: str
    version: int
    path: str
    last_modified: str | None = None
    title: str = ""
    parent_id: str | None = None
    breadcrumbs: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    links: list[list[str]] = field(default_factory=list)  # [space key, title, path it resolved to or ""]
    comments: list[str] = field(default_factory=list)  # "comment id:version" of the comments the file holds
    readers: dict[str, Any] | str | None = None  # ``Readers.to_json()`` as in the front matter; None: not recorded

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ManifestEntry:
        known = {key: data[key] for key in cls.__dataclass_fields__ if key in data}
        return cls(**known)


@dataclass
class AttachmentEntry:
    """One attachment of an exported page. ``path`` is its document (None when no text could be read: the
    ``reason`` says why, and the same version is not downloaded again)."""

    attachment_id: str
    page_id: str
    version: int
    file_name: str
    file_size: int | None = None
    media_type: str = ""
    path: str | None = None
    reason: str | None = None
    title: str = ""  # the document's title and breadcrumbs, rewritten when the page's change
    breadcrumbs: list[str] = field(default_factory=list)
    readers: dict[str, Any] | str | None = None  # its page's readers, as in its front matter

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AttachmentEntry:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})


@dataclass(frozen=True)
class UnreadablePage:
    """A listed page the run could not read. ``action``: ``removed`` (403: dropped from the export, so from the
    index), ``deleted`` (404 and gone from the listing), ``kept`` (the last good version stays; retried next run)."""

    page_id: str
    space_key: str
    title: str
    status: int | None
    reason: str  # forbidden | deleted | not_found | server_error | no_body
    action: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UnreadablePage:
        status = data.get("status")
        return cls(
            page_id=str(data["page_id"]),
            space_key=str(data.get("space_key") or ""),
            title=str(data.get("title") or ""),
            status=int(status) if status is not None else None,
            reason=str(data.get("reason") or ""),
            action=str(data.get("action") or ""),
        )


@dataclass
class ExportManifest:
    path: Path
    spaces: dict[str, dict[str, ManifestEntry]] = field(default_factory=dict)
    converter_version: int = CONVERTER_VERSION
    unreadable: dict[str, list[UnreadablePage]] = field(default_factory=dict)  # space key -> last run's findings
    attachments: dict[str, dict[str, AttachmentEntry]] = field(default_factory=dict)  # space -> attachment id -> entry

    def space(self, key: str) -> dict[str, ManifestEntry]:
        return self.spaces.setdefault(key, {})

    def save(self) -> None:
        atomic_write_json(
            self.path,
            {
                "format": MANIFEST_FORMAT,
                "converter_version": self.converter_version,
                "spaces": {
                    key: {page_id: asdict(entry) for page_id, entry in sorted(pages.items())}
                    for key, pages in sorted(self.spaces.items())
                },
                "unreadable": {
                    key: [asdict(page) for page in pages] for key, pages in sorted(self.unreadable.items()) if pages
                },
                "attachments": {
                    key: {att_id: asdict(entry) for att_id, entry in sorted(entries.items())}
                    for key, entries in sorted(self.attachments.items())
                    if entries
                },
            },
        )

    @classmethod
    def load(cls, path: Path, export_root: Path) -> ExportManifest:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            if raw.get("format") != MANIFEST_FORMAT:
                raise ValueError(f"format {raw.get('format')!r}")
            spaces = {
                key: {page_id: ManifestEntry.from_json(entry) for page_id, entry in pages.items()}
                for key, pages in raw["spaces"].items()
            }
            unreadable = {
                key: [UnreadablePage.from_json(item) for item in items]
                for key, items in (raw.get("unreadable") or {}).items()
            }
            attachments = {
                key: {att_id: AttachmentEntry.from_json(entry) for att_id, entry in entries.items()}
                for key, entries in (raw.get("attachments") or {}).items()
            }
            return cls(path, spaces, int(raw.get("converter_version", 0)), unreadable, attachments)
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("export manifest %s is unreadable (%s); rebuilding it from the export tree", path, exc)
        return cls.rebuild(path, export_root)

    @classmethod
    def rebuild(cls, path: Path, export_root: Path) -> ExportManifest:
        """Recover what the export tree holds from its files' front matter (files without it are ignored)."""
        manifest = cls(path)
        for file in iter_page_files(export_root):
            try:
                page = read_page(file, export_root)
            except (PageFormatError, OSError) as exc:
                log.warning("ignoring %s while rebuilding the export manifest: %s", file, exc)
                continue
            if page.page_id.startswith("path:") or page.version is None:
                continue
            if page.extra.get("attachment_of"):
                manifest.attachments.setdefault(page.space_key, {})[page.page_id] = AttachmentEntry(
                    attachment_id=page.page_id,
                    page_id=str(page.extra["attachment_of"]),
                    version=page.version,
                    file_name=str(page.extra.get("file_name") or ""),
                    file_size=page.extra.get("file_size"),
                    media_type=str(page.extra.get("media_type") or ""),
                    path=page.rel_path,
                    title=page.title,
                    breadcrumbs=list(page.breadcrumbs),
                    readers=page.readers.to_json() if page.readers else None,
                )
                continue
            manifest.space(page.space_key)[page.page_id] = ManifestEntry(
                page_id=page.page_id,
                version=page.version,
                path=page.rel_path,
                last_modified=page.last_modified.isoformat() if page.last_modified else None,
                title=page.title,
                parent_id=page.parent_id,
                breadcrumbs=list(page.breadcrumbs),
                labels=list(page.labels),
                readers=page.readers.to_json() if page.readers else None,
            )
        return manifest
