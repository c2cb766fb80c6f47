"""``vectors/index_cache.json``: a human-readable mirror of what the active generation holds.

It is rewritten atomically from the database after every run and read only for display. Nothing decides what to
(re)index from it: the database is the source of truth, so a deleted, stale or corrupted cache cannot cause a wrong
index (change detection always reads the documents table).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tenant_rag.fsutil import atomic_write_parts
from tenant_rag.store.reader import IndexedPage

log = logging.getLogger(__name__)

CACHE_NOTE = "cache only; the database is authoritative"


def cache_path(customer_dir: Path) -> Path:
    return customer_dir / "vectors" / "index_cache.json"


def _cache_parts(
    pages: Iterable[IndexedPage], *, generation: int | None, model_id: str | None, dimensions: int | None
) -> Iterator[bytes]:
    """The cache's JSON, a page at a time (a store of any size is never held in memory as one document)."""
    header = {
        "note": CACHE_NOTE,
        "written_at": datetime.now(UTC).isoformat(),
        "generation": generation,
        "model": model_id,
        "dimensions": dimensions,
    }
    yield b"{\n" + b"".join(f"  {json.dumps(k)}: {json.dumps(v)},\n".encode() for k, v in header.items())
    yield b'  "pages": {'
    separator = b"\n"
    for page in pages:
        entry = {
            "version": page.version,
            "content_hash": page.content_hash,
            "chunks": page.chunks,
            "space_key": page.space_key,
            "rel_path": page.rel_path,
        }
        yield separator + f"    {json.dumps(page.page_id)}: {json.dumps(entry)}".encode()
        separator = b",\n"
    yield b"\n  }\n}\n"


def write_index_cache(
    customer_dir: Path,
    pages: Iterable[IndexedPage],
    *,
    generation: int | None,
    model_id: str | None,
    dimensions: int | None,
) -> Path:
    """Write the cache atomically (a reader sees the old file or the new one), streaming ``pages`` into it."""
    path = cache_path(customer_dir)
    atomic_write_parts(path, _cache_parts(pages, generation=generation, model_id=model_id, dimensions=dimensions))
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
