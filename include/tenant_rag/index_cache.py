"""``vectors/index_cache.json``: a human-readable mirror of what the active generation holds.

It is rewritten atomically from the database after every run and read only for display. Nothing decides what to
(re)index from it: the database is the source of truth, so a deleted, stale or corrupted cache cannot cause a wrong
index (change detection always reads the documents table).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tenant_rag.fsutil import atomic_write_json
from tenant_rag.store.reader import IndexedPage

log = logging.getLogger(__name__)

CACHE_NOTE = "cache only; the database is authoritative"


def cache_path(customer_dir: Path) -> Path:
    return customer_dir / "vectors" / "index_cache.json"


def build_cache(
    pages: Mapping[str, IndexedPage], *, generation: int | None, model_id: str | None, dimensions: int | None
) -> dict[str, Any]:
    return {
        "note": CACHE_NOTE,
        "written_at": datetime.now(UTC).isoformat(),
        "generation": generation,
        "model": model_id,
        "dimensions": dimensions,
        "pages": {
            page_id: {
                "version": page.version,
                "content_hash": page.content_hash,
                "chunks": page.chunks,
                "space_key": page.space_key,
                "rel_path": page.rel_path,
            }
            for page_id, page in sorted(pages.items())
        },
    }


def write_index_cache(customer_dir: Path, cache: dict[str, Any]) -> Path:
    """Write the cache atomically (a reader sees the old file or the new one)."""
    path = cache_path(customer_dir)
    atomic_write_json(path, cache)
    return path


def read_index_cache(customer_dir: Path) -> dict[str, Any] | None:
    """The cache, or None when it is missing or unreadable (which is harmless)."""
    path = cache_path(customer_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.warning("ignoring unreadable index cache %s: %s", path, exc)
        return None
    if not isinstance(data, dict) or not isinstance(data.get("pages"), dict):
        log.warning("ignoring index cache %s: not the expected shape", path)
        return None
    return data
