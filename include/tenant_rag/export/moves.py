"""After the fetch phase: move pages whose place in the tree changed, drop pages that are gone, sweep the rest.

A page that was not re-fetched but moved (its parent changed, or an ancestor was renamed) keeps its body: its file
is rewritten at the new path with new ``breadcrumbs``/``parent_id`` and the old file goes. Old files that another
page's new path will overwrite are read up front (:func:`prepare_moves`), so swaps and renames never lose a body.
Whatever no current page owns is then swept from the space folder, and the manifest takes the new entries.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from tenant_rag.documents import PageFormatError, split_front_matter
from tenant_rag.export.manifest import ExportManifest, ManifestEntry
from tenant_rag.export.planning import SpacePlan
from tenant_rag.export.writer import read_text, remove, sweep, write_page


@dataclass
class PreparedMoves:
    old: dict[str, dict[str, ManifestEntry]]  # space key -> page id -> entry before this run
    preread: dict[str, str]  # page id -> file text saved before anything was written


def prepare_moves(plans: list[SpacePlan], manifest: ExportManifest, export_root: Path) -> PreparedMoves:
    old = {plan.space.key: dict(manifest.space(plan.space.key)) for plan in plans}
    owner = {plan.paths[pid]: pid for plan in plans for pid in plan.scope}
    preread: dict[str, str] = {}
    for plan in plans:
        fetching = set(plan.fetch)
        for page_id, entry in old[plan.space.key].items():
            if page_id in plan.scope and page_id not in fetching and owner.get(entry.path, page_id) != page_id:
                text = read_text(export_root, entry.path)
                if text is not None:
                    preread[page_id] = text
    return PreparedMoves(old, preread)


def clear_case_rename(prepared: PreparedMoves, space_key: str, page_id: str, new_path: str, export_root: Path) -> None:
    """On case-insensitive file systems a case-only rename must drop the old name before writing the new one."""
    entry = prepared.old.get(space_key, {}).get(page_id)
    if entry and entry.path != new_path and entry.path.casefold() == new_path.casefold():
        remove(export_root, entry.path)


def apply_tree_changes(
    plans: list[SpacePlan],
    manifest: ExportManifest,
    export_root: Path,
    fresh: dict[str, ManifestEntry],
    gone: set[str],
    prepared: PreparedMoves,
    keep: dict[str, set[str]] | None = None,
) -> dict[str, int]:
    """Move, keep or drop each page; then sweep files no page (nor ``keep[space]``, the attachment documents)
    owns."""
    moved = unchanged = deleted = 0
    for plan in plans:
        key = plan.space.key
        old = prepared.old[key]
        entries: dict[str, ManifestEntry] = {}
        for page_id in sorted(plan.scope - gone):
            previous = old.get(page_id)
            if page_id in fresh:
                entries[page_id] = fresh[page_id]
                moved += previous is not None and previous.path != fresh[page_id].path
                continue
            if previous is None:
                continue  # new page whose fetch failed: nothing on disk yet, the next run fetches it
            new_path = plan.paths[page_id]
            crumbs = plan.breadcrumbs(page_id)
            parent = plan.listing[page_id].parent_id
            if previous.path == new_path and previous.breadcrumbs == crumbs and previous.parent_id == parent:
                entries[page_id] = previous
                unchanged += 1
                continue
            text = prepared.preread.get(page_id) or read_text(export_root, previous.path)
            try:
                meta, body = split_front_matter(text or "")
            except PageFormatError:
                text = None
            if not text:
                continue  # the file vanished or broke under us: leave it out, the next run fetches it again
            meta.update(breadcrumbs=crumbs, parent_id=parent)
            clear_case_rename(prepared, key, page_id, new_path, export_root)
            write_page(export_root, new_path, meta, body)
            entries[page_id] = replace(previous, path=new_path, breadcrumbs=crumbs, parent_id=parent)
            moved += 1
        alive = plan.scope - gone
        deleted += sum(1 for page_id in old if page_id not in alive)
        sweep(export_root, key, {entry.path for entry in entries.values()} | (keep or {}).get(key, set()))
        manifest.spaces[key] = entries
    return {"pages_unchanged": unchanged, "pages_moved": moved, "pages_deleted": deleted}
