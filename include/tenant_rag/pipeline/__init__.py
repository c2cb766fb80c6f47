"""The indexing pipeline as separately callable stages: detect -> chunk -> embed (per batch) -> upsert.

Each stage may run in its own process (the Airflow DAG wraps each in a task): state passes only through files in a
run-scoped staging folder (``staging_for``) and through the small JSON-serialisable stats each stage returns
(``tenant_rag.pipeline.stats``).
``run_update`` runs them all in one process. Nothing is written to the database before ``upsert_changes``, and a
dry run writes nothing at all (beyond its own staging folder, which ``run_update`` removes).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tenant_rag.pipeline.chunk import chunk_changes
    from tenant_rag.pipeline.detect import detect_changes
    from tenant_rag.pipeline.embed import EmbedderMismatchError, embed_batch
    from tenant_rag.pipeline.run import run_update
    from tenant_rag.pipeline.staging import ProgressCallback, Staging, new_run_id, staging_for
    from tenant_rag.pipeline.stats import RunStats, merge_stats
    from tenant_rag.pipeline.upsert import upsert_changes
    from tenant_rag.runs.options import RunOptions

# name -> the module that defines it. Imported on first use, so that a task importing one stage (or only the stats)
# does not pay for every stage's libraries (the chunk stage's text splitters, the embedders' numerics): each Airflow
# task is a new process.
_HOMES = {
    "EmbedderMismatchError": "tenant_rag.pipeline.embed",
    "ProgressCallback": "tenant_rag.pipeline.staging",
    "RunOptions": "tenant_rag.runs.options",
    "RunStats": "tenant_rag.pipeline.stats",
    "Staging": "tenant_rag.pipeline.staging",
    "chunk_changes": "tenant_rag.pipeline.chunk",
    "detect_changes": "tenant_rag.pipeline.detect",
    "embed_batch": "tenant_rag.pipeline.embed",
    "merge_stats": "tenant_rag.pipeline.stats",
    "new_run_id": "tenant_rag.pipeline.staging",
    "run_update": "tenant_rag.pipeline.run",
    "staging_for": "tenant_rag.pipeline.staging",
    "upsert_changes": "tenant_rag.pipeline.upsert",
}
__all__ = [
    "EmbedderMismatchError",
    "ProgressCallback",
    "RunOptions",
    "RunStats",
    "Staging",
    "chunk_changes",
    "detect_changes",
    "embed_batch",
    "merge_stats",
    "new_run_id",
    "run_update",
    "staging_for",
    "upsert_changes",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
