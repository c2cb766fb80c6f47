"""Keep the readers of pages that were not fetched again current: restrictions and space permissions change without
a new page version, so after the tree changes each page whose recorded readers differ from this run's gets only its
front matter rewritten (its body is kept). Pages fetched in the run were written with this run's readers already;
attachment documents follow their page in :mod:`attachments`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from tenant_rag.documents import PageFormatError, split_front_matter
from tenant_rag.export.manifest import ExportManifest, ManifestEntry
from tenant_rag.export.planning import SpacePlan
from tenant_rag.export.writer import read_text, write_page
from tenant_rag.permissions import UNKNOWN_VALUE


def _rewrite(export_root: Path, rel_path: str, readers: dict[str, Any] | str) -> bool:
    text = read_text(export_root, rel_path)
    try:
        meta, body = split_front_matter(text or "")
    except PageFormatError:
        return False
    if not text:
        return False  # gone or broken: the entry keeps its old readers, so the next run tries again
    meta["readers"] = readers
    write_page(export_root, rel_path, meta, body)
    return True


def sync_readers(
    plans: list[SpacePlan], manifest: ExportManifest, export_root: Path, old: dict[str, dict[str, ManifestEntry]]
) -> dict[str, int]:
    """Rewrite the front matter of the planned spaces' pages whose readers changed; ``old`` holds the entries from
    before the run. Returns ``permissions_changed`` (pages that existed before and whose readers differ now, fetched
    or not), ``pages_restricted`` and ``pages_permissions_unknown`` (over the pages exported after the run)."""
    changed = restricted = unknown = 0
    for plan in plans:
        entries = manifest.space(plan.space.key)
        before = old.get(plan.space.key, {})
        for page_id, entry in sorted(entries.items()):
            readers = plan.readers_of(page_id)
            previous = before.get(page_id)
            changed += previous is not None and previous.readers != readers
            unknown += readers == UNKNOWN_VALUE
            restricted += isinstance(readers, dict) and bool(readers.get("restricted"))
            if entry.readers != readers and _rewrite(export_root, entry.path, readers):
                entries[page_id] = replace(entry, readers=readers)
    return {"permissions_changed": changed, "pages_restricted": restricted, "pages_permissions_unknown": unknown}
