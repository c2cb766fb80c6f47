"""The run-scoped staging folder through which the pipeline's stages hand over their work.

Layout: ``changes.json`` + ``target.json`` + ``upsert_plan.json`` (detect), ``chunks.jsonl`` (each child with
the location of its vector) + ``reused/part_N.npy`` + ``embed/texts_N.json`` (chunk), ``embed/vectors_N.npy``
(embed). Every file is written atomically, so a retried stage never reads a torn one.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from tenant_rag.fsutil import atomic_write_bytes, atomic_write_json
from tenant_rag.settings import settings

ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Staging:
    """The files one run's stages hand to each other."""

    root: Path

    @property
    def changes(self) -> Path:
        return self.root / "changes.json"

    @property
    def chunks(self) -> Path:
        return self.root / "chunks.jsonl"

    @property
    def target(self) -> Path:
        """The generation the run writes to (a copy of ``changes.json``'s, small enough to read per batch)."""
        return self.root / "target.json"

    @property
    def upsert_plan(self) -> Path:
        """What the upsert needs of ``changes.json``: options, target, deletions and errors, not the page lists."""
        return self.root / "upsert_plan.json"

    @property
    def chunk_stats(self) -> Path:
        return self.root / "chunk_stats.json"

    def reused(self, part: int) -> Path:
        """Vectors found in the store for one window of the chunk stage."""
        return self.root / "reused" / f"part_{part:05d}.npy"

    def texts(self, batch_index: int) -> Path:
        return self.root / "embed" / f"texts_{batch_index:05d}.json"

    def vectors(self, batch_index: int) -> Path:
        return self.root / "embed" / f"vectors_{batch_index:05d}.npy"

    def read_json(self, path: Path) -> Any:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"staging file {path} is missing: did the previous stage run?") from None

    def write_json(self, path: Path, data: Any) -> None:
        atomic_write_json(path, data)

    def save_array(self, path: Path, array: np.ndarray) -> None:
        import io

        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)
        atomic_write_bytes(path, buffer.getvalue())

    def load_array(self, path: Path) -> np.ndarray:
        return np.load(path, allow_pickle=False)

    def iter_jsonl(self, path: Path) -> Iterator[dict[str, Any]]:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    yield json.loads(line)

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _folder_name(run_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", run_id).strip("._") or "run"
    if safe != run_id or len(safe) > 80:
        safe = f"{safe[:70]}_{hashlib.sha256(run_id.encode()).hexdigest()[:8]}"
    return safe


def staging_for(customer_dir: Path, run_id: str, base: Path | None = None) -> Staging:
    """The staging folder of one run: ``<base>/<run_id sanitised>``.

    ``base`` defaults to ``$TENANT_RAG_STAGING_DIR/<customer_id>`` (shared storage for multi-worker setups), else
    ``<customer_dir>/cache/staging``.
    """
    if base is None:
        shared = settings().staging_dir
        base = shared / customer_dir.name if shared else customer_dir / "cache" / "staging"
    return Staging(Path(base) / _folder_name(run_id))


def new_run_id() -> str:
    return f"run_{datetime.now(UTC):%Y%m%dT%H%M%S}_{uuid.uuid4().hex[:6]}"
