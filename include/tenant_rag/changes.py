"""Change detection: the export tree on disk against what a generation of the index holds.

A page is *new* (not indexed), *changed* (its content hash differs, or the metadata shown with results — space,
URL, path, labels, parent — changed, or who may read it changed, which needs no new version; a higher version with
the same hash is not a change), *unchanged*, or
*deleted* (indexed but gone from the export, or in a space the customer no longer exports). A file that cannot be
read is a per-page error and its indexed page, if any, is kept; a file refused because it links out of the export
folder is a per-page error too (``kind: outside_root``) but keeps nothing: what was indexed from it goes. Deleting
more than ``rag.max_delete_ratio`` of the indexed pages in one run is refused (``DeletionLimitExceeded``) unless
forced; a dry run reports it instead.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tenant_rag.documents import ExportedPage, PageFormatError, PageOutsideRootError, iter_page_files, read_page
from tenant_rag.errors import PermanentError
from tenant_rag.permissions import reader_principals
from tenant_rag.store.reader import IndexedPage


class DeletionLimitExceeded(PermanentError):
    """A run would delete more than the customer's ``rag.max_delete_ratio`` of its indexed pages."""

    def __init__(self, customer_id: str, count: int, total: int, limit: float) -> None:
        self.customer_id = customer_id
        self.count = count
        self.total = total
        self.ratio = count / total if total else 1.0
        self.limit = limit
        super().__init__(
            f"customer {customer_id!r}: refusing to delete {count} of {total} indexed pages "
            f"(ratio {self.ratio:.2f} > rag.max_delete_ratio {limit:.2f}); check the export, "
            "or re-run with force_delete to accept it"
        )


@dataclass(frozen=True)
class PageRef:
    """What change detection needs to know of one exported page."""

    page_id: str
    rel_path: str
    space_key: str
    version: int | None
    content_hash: str
    meta_hash: str
    reason: str = ""
    readers_hash: str = ""


def meta_hash(page: ExportedPage) -> str:
    """Hash of the metadata returned with results (not version or timestamps, which change on every edit)."""
    payload = json.dumps(
        [page.space_key, page.url, page.rel_path, list(page.labels), page.parent_id], ensure_ascii=False
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def readers_hash(page: ExportedPage) -> str:
    """Hash of who may read the page, as stored (``reader_principals``); ``store.reader`` computes it in SQL."""
    return hashlib.sha256("\x1f".join(reader_principals(page.readers)).encode("utf-8")).hexdigest()


def page_ref(page: ExportedPage, reason: str = "") -> PageRef:
    return PageRef(
        page.page_id,
        page.rel_path,
        page.space_key,
        page.version,
        page.content_hash,
        meta_hash(page),
        reason,
        readers_hash(page),
    )


@dataclass
class ExportScan:
    pages: dict[str, PageRef] = field(default_factory=dict)
    errors: list[dict[str, str]] = field(default_factory=list)
    restricted: int = 0  # pages under a read restriction
    permissions_unknown: int = 0  # pages whose readers could not be read (hidden under enforcement)

    @property
    def error_paths(self) -> set[str]:
        return kept_paths(self.errors)


def page_error(rel: str, exc: Exception, **fields: str) -> dict[str, str]:
    """A per-page error record; a refused link is marked ``kind: outside_root``."""
    error = {"file": rel, **fields, "error": str(exc)}
    if isinstance(exc, PageOutsideRootError):
        error["kind"] = PageOutsideRootError.kind
    return error


def kept_paths(errors: list[dict[str, Any]]) -> set[str]:
    """Files in error whose indexed page is kept: every one but links refused for leaving the export folder."""
    return {error["file"] for error in errors if error.get("kind") != PageOutsideRootError.kind}


def scan_export(export_dir: Path, space_keys: list[str] | None) -> ExportScan:
    """Read every page file of the given spaces; unreadable files and duplicate page ids become errors."""
    scan = ExportScan()
    for path in iter_page_files(export_dir, space_keys):
        rel = path.relative_to(export_dir).as_posix()
        try:
            page = read_page(path, export_dir)
        except (PageFormatError, OSError) as exc:
            scan.errors.append(page_error(rel, exc))
            continue
        first = scan.pages.get(page.page_id)
        if first is not None:
            scan.errors.append(
                {"file": rel, "error": f"page id {page.page_id!r} is also used by {first.rel_path}; file skipped"}
            )
            continue
        scan.pages[page.page_id] = page_ref(page)
        if page.readers is not None:
            scan.restricted += page.readers.restricted and page.readers.known
            scan.permissions_unknown += not page.readers.known
    return scan


@dataclass
class ChangePlan:
    new: list[PageRef] = field(default_factory=list)
    changed: list[PageRef] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    pages_total: int = 0
    indexed_total: int = 0
    permissions_changed: int = 0  # pages indexed before whose readers differ now (rewritten, whatever else changed)
    pages_restricted: int = 0
    pages_permissions_unknown: int = 0

    @property
    def deletion_ratio(self) -> float:
        return len(self.deleted) / self.indexed_total if self.indexed_total else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["deletion_ratio"] = round(self.deletion_ratio, 4)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChangePlan:
        return cls(
            new=[PageRef(**ref) for ref in data.get("new", [])],
            changed=[PageRef(**ref) for ref in data.get("changed", [])],
            unchanged=list(data.get("unchanged", [])),
            deleted=list(data.get("deleted", [])),
            errors=list(data.get("errors", [])),
            pages_total=int(data.get("pages_total", 0)),
            indexed_total=int(data.get("indexed_total", 0)),
            permissions_changed=int(data.get("permissions_changed", 0)),
            pages_restricted=int(data.get("pages_restricted", 0)),
            pages_permissions_unknown=int(data.get("pages_permissions_unknown", 0)),
        )


def deleted_pages(
    scan: ExportScan,
    indexed: Mapping[str, IndexedPage],
    *,
    configured_spaces: list[str] | None,
    run_spaces: list[str] | None,
) -> list[str]:
    """Indexed pages to delete: outside the configured spaces, or in this run's spaces and gone from the export.

    A page whose file is in error is never deleted (matched by its relative path, since its id is unknown).
    """
    error_paths = scan.error_paths
    deleted = []
    for page_id, page in sorted(indexed.items()):
        if configured_spaces is not None and page.space_key not in configured_spaces:
            deleted.append(page_id)
        elif run_spaces is not None and page.space_key not in run_spaces:
            continue
        elif page_id not in scan.pages and page.rel_path not in error_paths:
            deleted.append(page_id)
    return deleted


def plan_changes(
    scan: ExportScan,
    indexed: Mapping[str, IndexedPage],
    *,
    configured_spaces: list[str] | None,
    run_spaces: list[str] | None = None,
    full_refresh: bool = False,
) -> ChangePlan:
    """Classify every exported and indexed page."""
    plan = ChangePlan(
        errors=list(scan.errors),
        pages_total=len(scan.pages),
        indexed_total=len(indexed),
        pages_restricted=scan.restricted,
        pages_permissions_unknown=scan.permissions_unknown,
    )
    for page_id, ref in scan.pages.items():
        old = indexed.get(page_id)
        readers_changed = old is not None and old.readers_hash is not None and old.readers_hash != ref.readers_hash
        plan.permissions_changed += readers_changed
        if old is None:
            plan.new.append(PageRef(**{**asdict(ref), "reason": "new"}))
        elif old.content_hash != ref.content_hash:
            plan.changed.append(
                PageRef(**{**asdict(ref), "reason": f"content (version {old.version} -> {ref.version})"})
            )
        elif old.meta_hash != ref.meta_hash:
            plan.changed.append(PageRef(**{**asdict(ref), "reason": "metadata"}))
        elif readers_changed:
            plan.changed.append(PageRef(**{**asdict(ref), "reason": "permissions"}))
        elif full_refresh:
            plan.changed.append(PageRef(**{**asdict(ref), "reason": "full refresh"}))
        else:
            plan.unchanged.append(page_id)
    plan.deleted = deleted_pages(scan, indexed, configured_spaces=configured_spaces, run_spaces=run_spaces)
    return plan


def check_deletions(
    customer_id: str, count: int, total: int, max_ratio: float, *, force: bool
) -> DeletionLimitExceeded | None:
    """The error a deletion of ``count`` of ``total`` pages deserves (None when it is allowed)."""
    if force or count == 0 or total == 0 or count / total <= max_ratio:
        return None
    return DeletionLimitExceeded(customer_id, count, total, max_ratio)
