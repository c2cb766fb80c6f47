"""Attachments as documents: each readable file on an exported page becomes
``exports/<space>/_attachments/<page id>/<file name>.md``, its text under front matter that ties it to its page
(title ``Page > file.pdf``, breadcrumbs down to the page, ``parent_id``/``attachment_of`` the page, ``url`` the
download link, the attachment's id as ``page_id``, its version, media type, file name and size, and its page's
``readers``).

Change detection is by attachment version and size: an unchanged file is never downloaded again, only its front
matter is rewritten when its page was renamed or moved or its readers changed. A file of a type not in
``export.attachments.types``, over ``max_size_mb``, unreadable (corrupt, encrypted), without text, or failing to
download is skipped and reported in the run's ``attachments_failed``; the page and the run go on. A download error
keeps the last good document; the others leave none. Attachments of deleted or removed pages, and deleted
attachments, lose their documents.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from tenant_rag.config import AttachmentsConfig
from tenant_rag.documents import PageFormatError, split_front_matter
from tenant_rag.export.attachment_text import AttachmentEmptyError, AttachmentUnreadableError, extract_text, kind_of
from tenant_rag.export.client import ConfluenceClient
from tenant_rag.export.errors import ConfluenceHTTPError, DownloadTooLargeError
from tenant_rag.export.layout import TreeNode, plan_paths
from tenant_rag.export.manifest import AttachmentEntry, ExportManifest
from tenant_rag.export.models import AttachmentInfo, iso_utc
from tenant_rag.export.planning import SpacePlan
from tenant_rag.export.writer import read_text, remove, write_page

log = logging.getLogger(__name__)
ATTACHMENTS_DIR = "_attachments"
MAX_FAILURES_REPORTED = 50


@dataclass(frozen=True)
class AttachmentFailure:
    """An attachment without a document. ``reason``: unsupported_type, too_large, unreadable, no_text or
    download_error."""

    space_key: str
    page_id: str
    attachment_id: str
    file_name: str
    reason: str
    error: str = ""


@dataclass
class _Job:
    info: AttachmentInfo
    kind: str
    path: str
    meta: dict[str, Any]
    previous: AttachmentEntry | None


@dataclass
class _Outcome:
    entry: AttachmentEntry | None = None
    failure: AttachmentFailure | None = None
    downloaded: bool = False
    written: bool = False


def _skip(key: str, info: AttachmentInfo, reason: str, error: str = "") -> AttachmentFailure:
    return AttachmentFailure(key, info.page_id, info.attachment_id, info.file_name, reason, error[:500])


def _entry(info: AttachmentInfo, meta: dict[str, Any], path: str | None, reason: str | None) -> AttachmentEntry:
    return AttachmentEntry(
        attachment_id=info.attachment_id,
        page_id=info.page_id,
        version=info.version,
        file_name=info.file_name,
        file_size=info.file_size,
        media_type=info.media_type,
        path=path,
        reason=reason,
        title=meta["title"],
        breadcrumbs=list(meta["breadcrumbs"]),
        readers=meta["readers"],
    )


def _meta(key: str, info: AttachmentInfo, page_title: str, crumbs: list[str], readers: Any) -> dict[str, Any]:
    return {
        "page_id": info.attachment_id,
        "title": f"{page_title} > {info.file_name}",
        "space_key": key,
        "version": info.version,
        "last_modified": iso_utc(info.last_modified),
        "url": info.download_url,
        "breadcrumbs": [*crumbs, page_title],
        "parent_id": info.page_id,
        "attachment_of": info.page_id,
        "file_name": info.file_name,
        "media_type": info.media_type,
        "file_size": info.file_size,
        "readers": readers,  # its page's
    }


def document_paths(key: str, infos: list[AttachmentInfo]) -> dict[str, str]:
    """Attachment id -> document path; files of one page whose names collide are told apart by id."""
    by_page: dict[str, list[TreeNode]] = {}
    for info in infos:
        by_page.setdefault(info.page_id, []).append(TreeNode(info.attachment_id, info.file_name, None))
    return {
        att_id: posixpath.join(key, ATTACHMENTS_DIR, page_id, rel)
        for page_id, nodes in by_page.items()
        for att_id, rel in plan_paths(nodes).items()
    }


def _unfit(info: AttachmentInfo, kind: str | None, config: AttachmentsConfig) -> tuple[str, str] | None:
    """(reason, detail) when a file is not to be read at all: a type not configured, or over the size limit."""
    if kind is None or kind not in config.types:
        return "unsupported_type", f"type {kind or info.media_type!r}"
    if info.file_size is not None and info.file_size > config.max_bytes:
        return "too_large", f"{info.file_size} bytes > {config.max_bytes}"
    return None


def expects_document(info: AttachmentInfo, config: AttachmentsConfig, previous: AttachmentEntry | None) -> bool:
    """Whether the file should have a document after this run (known before it runs; a download or extraction
    failure of a new or changed file can still leave none)."""
    if _unfit(info, kind_of(info.file_name, info.media_type), config) is not None:
        return False
    unchanged = previous is not None and (previous.version, previous.file_size) == (info.version, info.file_size)
    return not (unchanged and previous is not None and previous.path is None)


def _download(client: ConfluenceClient, job: _Job, key: str, export_root: Path, max_bytes: int) -> _Outcome:
    """Download, read and write one file (in a worker thread)."""
    info = job.info
    try:
        data = client.http.get_bytes(info.download_url, max_bytes=max_bytes)
    except DownloadTooLargeError as exc:
        return _Outcome(_entry(info, job.meta, None, "too_large"), _skip(key, info, "too_large", str(exc)))
    except ConfluenceHTTPError as exc:
        if exc.status == 401:
            raise
        return _Outcome(job.previous, _skip(key, info, "download_error", str(exc)))
    try:
        text = extract_text(data, job.kind)
    except AttachmentEmptyError as exc:
        return _Outcome(_entry(info, job.meta, None, "no_text"), _skip(key, info, "no_text", str(exc)), True)
    except AttachmentUnreadableError as exc:
        return _Outcome(_entry(info, job.meta, None, "unreadable"), _skip(key, info, "unreadable", str(exc)), True)
    written = write_page(export_root, job.path, job.meta, f"# {info.file_name}\n\n{text}\n")
    return _Outcome(_entry(info, job.meta, job.path, None), None, True, written)


def _refresh(job: _Job, export_root: Path) -> _Outcome | None:
    """An unchanged file: its entry as is, or with the front matter rewritten after a page rename or move or a
    change of its page's readers; None when the document is gone or broken (then it is downloaded again)."""
    previous = job.previous
    assert previous is not None and previous.path is not None
    fresh = {name: job.meta[name] for name in ("title", "breadcrumbs", "readers")}
    if (previous.path, previous.title, previous.breadcrumbs, previous.readers) == (job.path, *fresh.values()):
        return _Outcome(previous) if (export_root / previous.path).is_file() else None
    text = read_text(export_root, previous.path)
    try:
        meta, body = split_front_matter(text or "")
    except PageFormatError:
        return None
    if not text:
        return None
    meta.update(fresh)
    write_page(export_root, job.path, meta, body)
    if previous.path != job.path:
        remove(export_root, previous.path)  # inside the export folder only, like every write
    return _Outcome(replace(previous, path=job.path, **fresh))


def export_attachments(
    client: ConfluenceClient,
    plans: list[SpacePlan],
    manifest: ExportManifest,
    export_root: Path,
    alive: Callable[[SpacePlan, str], bool],
    config: AttachmentsConfig,
    workers: int,
) -> tuple[dict[str, set[str]], dict[str, Any]]:
    """Bring every planned space's attachment documents up to date; returns the document paths to keep per space
    and the run's attachment stats. ``alive(plan, page_id)``: the page has a file after this run."""
    keep: dict[str, set[str]] = {}
    failures: list[AttachmentFailure] = []
    counts = dict.fromkeys(("listed", "downloaded", "written", "unchanged", "deleted"), 0)
    jobs: list[tuple[str, _Job]] = []
    olds = {plan.space.key: dict(manifest.attachments.get(plan.space.key, {})) for plan in plans}
    for plan in plans:
        key = plan.space.key
        old = olds[key]
        entries: dict[str, AttachmentEntry] = {}
        infos = [a for a in plan.attachments or [] if a.page_id in plan.listing and alive(plan, a.page_id)]
        counts["listed"] += len(infos)
        paths = document_paths(key, infos)
        for info in sorted(infos, key=lambda a: (len(a.page_id), a.page_id, a.attachment_id)):
            page = plan.listing[info.page_id]
            meta = _meta(key, info, page.title, plan.breadcrumbs(info.page_id), plan.readers_of(info.page_id))
            kind = kind_of(info.file_name, info.media_type)
            previous = old.get(info.attachment_id)
            unfit = _unfit(info, kind, config)
            if unfit is not None:
                failures.append(_skip(key, info, *unfit))
                entries[info.attachment_id] = _entry(info, meta, None, unfit[0])
                continue
            assert kind is not None  # _unfit refuses files of unknown type
            same = previous is not None and (previous.version, previous.file_size) == (info.version, info.file_size)
            job = _Job(info, kind, paths[info.attachment_id], meta, previous)
            if same and previous is not None and previous.reason in ("unreadable", "no_text"):
                failures.append(_skip(key, info, previous.reason, "unchanged since the last run"))
                entries[info.attachment_id] = previous
                continue
            outcome = _refresh(job, export_root) if same and previous and previous.path else None
            if outcome is not None:
                counts["unchanged"] += 1
                entries[info.attachment_id] = outcome.entry  # type: ignore[assignment]
                continue
            jobs.append((key, job))
        manifest.attachments[key] = entries
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="confluence-attachment") as pool:
        futures = [
            (key, job, pool.submit(_download, client, job, key, export_root, config.max_bytes)) for key, job in jobs
        ]
        for key, job, future in futures:
            outcome = future.result()
            counts["downloaded"] += outcome.downloaded
            counts["written"] += outcome.written
            if outcome.failure is not None:
                log.warning(
                    "space %s: attachment %s (%r) skipped: %s",
                    key,
                    job.info.attachment_id,
                    job.info.file_name,
                    outcome.failure.reason,
                )
                failures.append(outcome.failure)
            if outcome.entry is not None:
                manifest.attachments[key][job.info.attachment_id] = outcome.entry
    for plan in plans:
        key = plan.space.key
        entries = manifest.attachments[key]
        keep[key] = {entry.path for entry in entries.values() if entry.path}
        counts["deleted"] += sum(1 for att_id, entry in olds[key].items() if entry.path and att_id not in entries)
    failures.sort(key=lambda f: (f.space_key, len(f.page_id), f.page_id, f.attachment_id))
    stats: dict[str, Any] = {f"attachments_{name}": value for name, value in counts.items()}
    stats["attachments_failed"] = [asdict(f) for f in failures[:MAX_FAILURES_REPORTED]]
    stats["attachments_failed_total"] = len(failures)
    return keep, stats
