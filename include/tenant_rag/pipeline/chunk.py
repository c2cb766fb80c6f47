"""Stage 2: chunk the new and changed pages, reuse stored vectors by text hash, and list what must be embedded.

Writes ``chunks.jsonl`` (one page per line: its document row, parents and children, each child with its analysed
terms (``tenant_rag.text_analysis``: text analysis happens here, not in the database's write path) and the location of
its vector: ``["e", batch, row]`` to be embedded, ``["r", part, row]`` found in the store), ``reused/part_N.npy``
and one ``embed/texts_N.json`` per embedding batch of at most ``rag.embedding_batch_size`` distinct texts.

Pages are processed a window at a time (``WINDOW_CHILDREN`` children): the window's texts are looked up in the
store, its reusable vectors and full embedding batches written, then its records; memory stays flat however
large the run. Only the map from text hash to location grows with the run (about 150 bytes a distinct text), so
a text repeated on many pages is embedded once.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from tenant_rag.changes import ChangePlan, page_error
from tenant_rag.chunking import ChildChunk, ParentChunk, chunk_page
from tenant_rag.config import CustomerConfig
from tenant_rag.db import admin_connection
from tenant_rag.documents import ExportedPage, PageFormatError, read_page
from tenant_rag.permissions import reader_principals
from tenant_rag.pipeline.staging import ProgressCallback, Staging
from tenant_rag.pipeline.stats import ChunkStats
from tenant_rag.store.generations import Target
from tenant_rag.store.reader import stored_vectors
from tenant_rag.store.registry import check_claimable
from tenant_rag.store.schema import store_names
from tenant_rag.text_analysis import Analyzer, analyzer_for

TOKENS_PER_CHAR = 0.25


def chunk_context(title: str, heading_path: tuple[str, ...]) -> str:
    """Page title and heading path of a child (weighted above its text in the lexical index)."""
    path = heading_path[1:] if heading_path and heading_path[0] == title else heading_path
    return "\n".join(part for part in (title.strip(), " > ".join(path)) if part)


def _child(page: ExportedPage, child: ChildChunk, analyzer: Analyzer) -> dict[str, Any]:
    """A child's staged fields, with its analysed terms (the upsert stores them as they are)."""
    context = chunk_context(page.title, child.heading_path)
    lexical = analyzer.chunk_terms(child.text, context)
    return {
        "chunk_id": child.chunk_id,
        "parent_id": child.parent_id,
        "ordinal": child.ordinal,
        "text": child.text,
        "context": context,
        "text_hash": child.text_hash,
        "lexical": {"terms": lexical.terms, "freqs": lexical.freqs, "length": lexical.length},
    }


def _record(
    page: ExportedPage, parents: list[ParentChunk], children: list[ChildChunk], analyzer: Analyzer
) -> dict[str, Any]:
    from tenant_rag.changes import meta_hash

    return {
        "document": {
            "page_id": page.page_id,
            "space_key": page.space_key,
            "title": page.title,
            "url": page.url,
            "rel_path": page.rel_path,
            "version": page.version,
            "content_hash": page.content_hash,
            "meta_hash": meta_hash(page),
            "breadcrumbs": list(page.breadcrumbs),
            "labels": list(page.labels),
            "last_modified": page.last_modified.isoformat() if page.last_modified else None,
            "parent_page_id": page.parent_id,
            "parents": len(parents),
            "chunks": len(children),
            "readers": reader_principals(page.readers),
        },
        "parents": [
            {"parent_id": p.parent_id, "ordinal": p.ordinal, "text": p.text, "heading_path": list(p.heading_path)}
            for p in parents
        ],
        "children": [_child(page, c, analyzer) for c in children],
    }


def _cleaned_warning(page: ExportedPage) -> str:
    return (
        f"NUL characters (\\x00, which PostgreSQL text cannot hold) removed from {', '.join(page.cleaned)}; "
        "the page is indexed without them"
    )


def _empty(dry_run: bool) -> ChunkStats:
    return {
        "pages": 0,
        "parents": 0,
        "children": 0,
        "to_embed": 0,
        "reused": 0,
        "embed_batches": 0,
        "errors": [],
        "warnings": [],
        "dry_run": dry_run,
        "duration_s": 0.0,
    }


WINDOW_CHILDREN = 2000


class _VectorPlanner:
    """Decides, a window of texts at a time, where each distinct text's vector will come from."""

    def __init__(
        self, config: CustomerConfig, changes: dict[str, Any], target: Target, staging: Staging, database_url: str
    ) -> None:
        self.config, self.changes, self.target = config, changes, target
        self.staging, self.database_url = staging, database_url
        self._location: dict[bytes, int] = {}  # compact: 16 bytes of the hash -> packed (kind, number, row)
        self.batch_size = config.rag.embedding_batch_size
        self.pending: list[tuple[str, str]] = []
        self.batches = self.parts = self.to_embed = 0
        self.chars_to_embed = 0

    @staticmethod
    def _key(text_hash: str) -> bytes:
        return bytes.fromhex(text_hash[:32])  # text hashes are sha256 hex (chunking.py); 16 bytes are plenty

    def location(self, text_hash: str) -> list[Any]:
        """``["e", batch, row]`` or ``["r", part, row]`` of a text already placed."""
        packed = self._location[self._key(text_hash)]
        kind = "r" if packed & 1 else "e"
        return [kind, packed >> 21, (packed >> 1) & 0xFFFFF]

    def _place(self, text_hash: str, reused: bool, number: int, row: int) -> None:
        if row >= 1 << 20:
            raise ValueError(f"customer {self.config.customer_id!r}: a window of over a million texts")
        self._location[self._key(text_hash)] = (number << 21) | (row << 1) | int(reused)

    def place(self, texts: dict[str, str]) -> None:
        """Give every new text of a window a location: reused from the store, or a row of an embedding batch."""
        new = [h for h in texts if self._key(h) not in self._location]
        stored = _reusable_vectors(self.config, self.changes, self.target, new, self.database_url)
        reused = [h for h in new if h in stored]
        if reused:
            self.staging.save_array(self.staging.reused(self.parts), np.vstack([stored[h] for h in reused]))
            for row, h in enumerate(reused):
                self._place(h, True, self.parts, row)
            self.parts += 1
        for h in new:
            if h in stored:
                continue
            self._place(h, False, self.batches, len(self.pending))
            self.pending.append((h, texts[h]))
            self.to_embed += 1
            self.chars_to_embed += len(texts[h])
            if len(self.pending) >= self.batch_size:
                self.flush()

    def flush(self) -> None:
        """Write the batch being filled (if any) as ``embed/texts_N.json``."""
        if not self.pending:
            return
        hashes = [h for h, _ in self.pending]
        self.staging.write_json(
            self.staging.texts(self.batches), {"hashes": hashes, "texts": [text for _, text in self.pending]}
        )
        self.batches += 1
        self.pending = []


def chunk_changes(
    config: CustomerConfig,
    export_dir: Path,
    staging: Staging,
    *,
    database_url: str,
    progress: ProgressCallback | None = None,
) -> ChunkStats:
    started = time.perf_counter()
    changes = staging.read_json(staging.changes)
    if changes["options"].get("dry_run"):
        return _empty(True)
    target = Target.from_dict(changes["target"])
    refs = _refs_to_chunk(changes.pop("plan"))  # the plan's other lists are not needed here
    errors: list[dict[str, str]] = []
    warnings: list[dict[str, str]] = []  # pages indexed, but not exactly as read (``ExportedPage.cleaned``)
    for stale in (staging.texts(0).parent, staging.reused(0).parent):  # a retried stage must not keep old batches
        shutil.rmtree(stale, ignore_errors=True)
    planner = _VectorPlanner(config, changes, target, staging, database_url)
    analyzer = analyzer_for(target.signature.text_search_config)
    counts = {"pages": 0, "parents": 0, "children": 0, "reused": 0}
    window: list[dict[str, Any]] = []
    window_texts: dict[str, str] = {}  # text hash -> text to embed, first seen first

    def write_window(out: Any) -> None:
        planner.place(window_texts)
        for record in window:
            for child in record["children"]:
                child["vector"] = planner.location(child["text_hash"])
                counts["reused"] += child["vector"][0] == "r"
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        window.clear()
        window_texts.clear()

    tmp = staging.chunks.with_suffix(".jsonl.tmp")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    with tmp.open("w", encoding="utf-8") as out:
        for done, ref in enumerate(refs, 1):
            try:
                page = read_page(export_dir / ref.rel_path, export_dir)
                if page.page_id != ref.page_id:
                    raise PageFormatError(f"page id changed from {ref.page_id!r} to {page.page_id!r} during the run")
                parents, children = chunk_page(page, config.rag)
            except (PageFormatError, OSError, ValueError) as exc:
                errors.append(page_error(ref.rel_path, exc, page_id=ref.page_id))
                continue
            if page.cleaned:
                warnings.append({"file": ref.rel_path, "page_id": ref.page_id, "warning": _cleaned_warning(page)})
            window.append(_record(page, parents, children, analyzer))
            counts["pages"] += 1
            counts["parents"] += len(parents)
            counts["children"] += len(children)
            for child in children:
                window_texts.setdefault(child.text_hash, child.embed_text)
            if len(window_texts) >= WINDOW_CHILDREN:
                write_window(out)
            if progress:
                progress("chunk", done, len(refs))
        write_window(out)
        planner.flush()
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, staging.chunks)
    stats: ChunkStats = {
        "pages": counts["pages"],
        "parents": counts["parents"],
        "children": counts["children"],
        "reused": counts["reused"],
        "to_embed": planner.to_embed,
        "embed_batches": planner.batches,
        "tokens_est": int(planner.chars_to_embed * TOKENS_PER_CHAR),
        "errors": errors,
        "warnings": warnings,
        "dry_run": False,
        "duration_s": round(time.perf_counter() - started, 3),
    }
    staging.write_json(staging.chunk_stats, stats)
    return stats


def _refs_to_chunk(plan: dict[str, Any]) -> list[Any]:
    parsed = ChangePlan.from_dict({"new": plan.get("new", []), "changed": plan.get("changed", [])})
    return parsed.new + parsed.changed


def _reusable_vectors(
    config: CustomerConfig, changes: dict[str, Any], target: Target, hashes: list[str], database_url: str
) -> dict[str, np.ndarray]:
    """Vectors already stored for these texts by the same model: in the target, then in the active generation."""
    if not hashes:
        return {}
    names = store_names(config)
    model_id = target.signature.model_id
    found: dict[str, np.ndarray] = {}
    with admin_connection(database_url, customer_id=config.customer_id, action="looking up reusable vectors") as conn:
        check_claimable(conn, names)
        if target.status != "new":
            found.update(stored_vectors(conn, names, target.generation, hashes, model_id))
        active = changes.get("active")
        if active and active["generation"] != target.generation and active["model_id"] == model_id:
            missing = [h for h in hashes if h not in found]
            found.update(stored_vectors(conn, names, int(active["generation"]), missing, model_id))
    return {h: v for h, v in found.items() if v.shape == (target.signature.dimensions,)}
