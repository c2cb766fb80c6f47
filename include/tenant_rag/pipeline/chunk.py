"""Stage 2: chunk the new and changed pages, reuse stored vectors by text hash, and list what must be embedded.

Writes ``chunks.jsonl`` (one page per line, with its document row, parents and children), ``vector_index.json``
(text hash -> where its vector will come from), ``reused.npy`` (vectors found in the store) and one
``embed/texts_N.json`` per embedding batch of at most ``rag.embedding_batch_size`` distinct texts.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from tenant_rag.changes import ChangePlan
from tenant_rag.chunking import ChildChunk, ParentChunk, chunk_page
from tenant_rag.config import CustomerConfig
from tenant_rag.db import admin_connection
from tenant_rag.documents import ExportedPage, PageFormatError, read_page
from tenant_rag.pipeline.staging import ProgressCallback, Staging
from tenant_rag.store.generations import Target
from tenant_rag.store.reader import stored_vectors
from tenant_rag.store.schema import store_names

TOKENS_PER_CHAR = 0.25


def chunk_context(title: str, heading_path: tuple[str, ...]) -> str:
    """Page title and heading path of a child (weighted above its text in the lexical index)."""
    path = heading_path[1:] if heading_path and heading_path[0] == title else heading_path
    return "\n".join(part for part in (title.strip(), " > ".join(path)) if part)


def _record(page: ExportedPage, parents: list[ParentChunk], children: list[ChildChunk]) -> dict[str, Any]:
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
        },
        "parents": [
            {"parent_id": p.parent_id, "ordinal": p.ordinal, "text": p.text, "heading_path": list(p.heading_path)}
            for p in parents
        ],
        "children": [
            {
                "chunk_id": c.chunk_id,
                "parent_id": c.parent_id,
                "ordinal": c.ordinal,
                "text": c.text,
                "context": chunk_context(page.title, c.heading_path),
                "text_hash": c.text_hash,
            }
            for c in children
        ],
    }


def _empty(dry_run: bool) -> dict[str, Any]:
    return {
        "pages": 0,
        "parents": 0,
        "children": 0,
        "to_embed": 0,
        "reused": 0,
        "embed_batches": 0,
        "errors": [],
        "dry_run": dry_run,
        "duration_s": 0.0,
    }


def chunk_changes(
    config: CustomerConfig,
    export_dir: Path,
    staging: Staging,
    *,
    database_url: str,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    started = time.perf_counter()
    changes = staging.read_json(staging.changes)
    if changes["options"].get("dry_run"):
        return _empty(True)
    target = Target.from_dict(changes["target"])
    plan = ChangePlan.from_dict(changes["plan"])
    refs = plan.new + plan.changed
    errors: list[dict[str, str]] = []
    texts: dict[str, str] = {}  # text hash -> text to embed, first seen first
    parents_total = children_total = pages = 0
    child_hashes: list[str] = []
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
                errors.append({"file": ref.rel_path, "page_id": ref.page_id, "error": str(exc)})
                continue
            out.write(json.dumps(_record(page, parents, children), ensure_ascii=False) + "\n")
            pages += 1
            parents_total += len(parents)
            children_total += len(children)
            for child in children:
                texts.setdefault(child.text_hash, child.embed_text)
                child_hashes.append(child.text_hash)
            if progress:
                progress("chunk", done, len(refs))
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, staging.chunks)

    stored = _reusable_vectors(config, changes, target, list(texts), database_url)
    reused_hashes = [h for h in texts if h in stored]
    to_embed = [h for h in texts if h not in stored]
    dims = target.signature.dimensions
    matrix = np.vstack([stored[h] for h in reused_hashes]) if reused_hashes else np.zeros((0, dims), np.float32)
    staging.save_array(staging.reused, matrix)
    index: dict[str, list[Any]] = {h: ["r", row] for row, h in enumerate(reused_hashes)}
    size = config.rag.embedding_batch_size
    shutil.rmtree(staging.texts(0).parent, ignore_errors=True)  # a retried stage must not keep stale batches
    batches = 0
    for batch, start in enumerate(range(0, len(to_embed), size)):
        hashes = to_embed[start : start + size]
        staging.write_json(staging.texts(batch), {"hashes": hashes, "texts": [texts[h] for h in hashes]})
        index.update({h: ["e", batch, row] for row, h in enumerate(hashes)})
        batches += 1
    staging.write_json(staging.vector_index, index)
    stats = {
        "pages": pages,
        "parents": parents_total,
        "children": children_total,
        "to_embed": len(to_embed),
        "reused": sum(1 for h in child_hashes if h in stored),
        "embed_batches": batches,
        "tokens_est": int(sum(len(texts[h]) for h in to_embed) * TOKENS_PER_CHAR),
        "errors": errors,
        "dry_run": False,
        "duration_s": round(time.perf_counter() - started, 3),
    }
    staging.write_json(staging.chunk_stats, stats)
    return stats


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
        if target.status != "new":
            found.update(stored_vectors(conn, names, target.generation, hashes, model_id))
        active = changes.get("active")
        if active and active["generation"] != target.generation and active["model_id"] == model_id:
            missing = [h for h in hashes if h not in found]
            found.update(stored_vectors(conn, names, int(active["generation"]), missing, model_id))
    return {h: v for h, v in found.items() if v.shape == (target.signature.dimensions,)}
