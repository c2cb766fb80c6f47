"""File operations of an export: write a page, move one (rewriting its front matter), delete, sweep, prune.

Every write goes through ``tenant_rag.fsutil.atomic_write_text``, so a crash leaves the old file or the new one.
Every path is checked with :func:`layout.inside` so nothing is written or deleted outside ``exports/``.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from tenant_rag.documents import render_page
from tenant_rag.export.layout import inside
from tenant_rag.export.models import PageContent, iso_utc
from tenant_rag.fsutil import atomic_write_text


def page_meta(page: PageContent, breadcrumbs: list[str]) -> dict[str, Any]:
    return {
        "page_id": page.page_id,
        "title": page.title,
        "space_key": page.space_key,
        "version": page.version,
        "last_modified": iso_utc(page.last_modified),
        "url": page.url,
        "breadcrumbs": breadcrumbs,
        "labels": list(page.labels),
        "parent_id": page.parent_id,
    }


def write_page(export_root: Path, rel_path: str, meta: dict[str, Any], body: str) -> bool:
    """Write one page file; returns False (and leaves the file alone) when the content is already there."""
    target = inside(export_root, rel_path)
    text = render_page(meta, body)
    with contextlib.suppress(OSError, UnicodeDecodeError):
        if target.read_text(encoding="utf-8") == text:
            return False
    atomic_write_text(target, text)
    return True


def read_text(export_root: Path, rel_path: str) -> str | None:
    try:
        return inside(export_root, rel_path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def remove(export_root: Path, rel_path: str) -> bool:
    try:
        inside(export_root, rel_path).unlink()
        return True
    except FileNotFoundError:
        return False


def sweep(export_root: Path, space_key: str, keep: set[str]) -> list[str]:
    """Delete files under ``exports/<space>/`` that no current page owns (incl. temp files of crashed writes)."""
    space_dir = inside(export_root, space_key)
    removed: list[str] = []
    if not space_dir.is_dir():
        return removed
    for folder, _dirs, files in os.walk(space_dir):
        for name in files:
            path = Path(folder) / name
            rel = path.relative_to(export_root).as_posix()
            stray_temp = name.startswith(".") and name.endswith(".tmp")
            if (name.endswith(".md") and rel not in keep) or stray_temp:
                path.unlink(missing_ok=True)
                removed.append(rel)
    prune_empty_dirs(space_dir)
    return removed


def prune_empty_dirs(space_dir: Path) -> None:
    for folder, _dirs, _files in sorted(os.walk(space_dir), key=lambda item: -len(item[0])):
        if Path(folder) != space_dir:
            with contextlib.suppress(OSError):
                os.rmdir(folder)  # only succeeds when empty
