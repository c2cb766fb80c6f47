"""What each pipeline stage reports, and the run summary made of them.

Every stage returns a small JSON-serialisable dict (it travels through XCom between Airflow tasks), typed here.
``merge_stats`` folds them into ``RunStats``, the headline figures of one run; ``sum_embed_stats`` is the one place
where embedding figures are added up (the batches of one task, the mapped tasks of one run).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import (
    Any,
    NotRequired,  # pydantic validates these on Python 3.11
)

from pydantic import ConfigDict, with_config
from typing_extensions import TypedDict

from tenant_rag.runs.record import PagePreview

#: Stage stats keep the keys a stage adds on top of the typed ones (the operators add ``duration_s``, ``staging``).
_KEEP_EXTRA = ConfigDict(extra="allow")


@with_config(_KEEP_EXTRA)
class DetectStats(TypedDict):
    new: int
    changed: int
    unchanged: int
    deleted: int
    errors: list[dict[str, Any]]
    pages_total: int
    indexed_total: int
    deletion_ratio: float
    deletion_blocked: str | None
    dry_run: bool
    generation: int
    target_status: str
    lost_on_switch: NotRequired[int]
    duration_s: NotRequired[float]
    pages: NotRequired[PagePreview]
    permissions_changed: NotRequired[int]  # pages whose readers changed (rewritten even when nothing else did)
    pages_restricted: NotRequired[int]  # exported pages under a read restriction
    pages_permissions_unknown: NotRequired[int]  # exported pages whose readers could not be read


@with_config(_KEEP_EXTRA)
class ChunkStats(TypedDict):
    pages: int
    parents: int
    children: int
    to_embed: int
    reused: int
    embed_batches: int
    errors: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    dry_run: bool
    duration_s: float
    tokens_est: NotRequired[int]


class EmbedBatchStats(TypedDict):
    """One batch: ``skipped`` when its vectors were already staged by an earlier try (no call made)."""

    batch: int
    texts: int
    calls: int
    tokens_est: int
    skipped: bool
    duration_s: float


@with_config(_KEEP_EXTRA)
class EmbedStats(TypedDict):
    """Embedding totals of one task or of a whole run: durations summed, ``wall_s`` the slowest part."""

    tasks: int
    batches: int
    batches_skipped: int
    texts: int
    calls: int
    tokens_est: int
    duration_s: float
    wall_s: float


@with_config(_KEEP_EXTRA)
class UpsertStats(TypedDict):
    pages_written: int
    pages_deleted: int
    parents: int
    chunks: int
    switched: bool
    errors: list[dict[str, Any]]
    dry_run: bool
    duration_s: float
    switch_blocked_by: NotRequired[list[str]]
    generation: NotRequired[int]
    live_generation: NotRequired[int | None]


class StageDurations(TypedDict):
    detect: float
    chunk: float
    embed: float
    upsert: float


class RunStats(TypedDict):
    """The headline figures of one run (what ``run_update`` returns and the run record's counts come from)."""

    run_id: str
    customer_id: str
    dry_run: bool
    generation: int | None
    target_status: str | None
    switched: bool
    pages_total: int
    pages_added: int
    pages_updated: int
    pages_unchanged: int
    pages_deleted: int
    pages_to_delete: int
    pages_written: int
    deletion_ratio: float
    deletion_blocked: str | None
    parents: int
    chunks: int
    chunks_embedded: int
    chunks_reused: int
    embed_batches: int
    embedding_calls: int
    tokens_est: int
    errors: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    durations_s: StageDurations
    pages: NotRequired[PagePreview | None]
    duration_s: NotRequired[float]
    permissions_changed: NotRequired[int]
    pages_restricted: NotRequired[int]
    pages_permissions_unknown: NotRequired[int]


def batch_embed_stats(batch: EmbedBatchStats) -> EmbedStats:
    """One batch as a part of ``sum_embed_stats`` (no task of its own)."""
    skipped = bool(batch["skipped"])
    return {
        "tasks": 0,
        "batches": 1,
        "batches_skipped": int(skipped),
        "texts": batch["texts"],  # embedded in this run, by this try or an earlier one
        "calls": 0 if skipped else batch["calls"],
        "tokens_est": 0 if skipped else batch["tokens_est"],
        "duration_s": 0.0 if skipped else batch["duration_s"],
        "wall_s": 0.0 if skipped else batch["duration_s"],
    }


def sum_embed_stats(parts: Iterable[EmbedStats], *, tasks: int | None = None) -> EmbedStats:
    """The parts added up: counts and durations summed, ``wall_s`` the longest part's ``duration_s``.

    ``tasks`` overrides the summed task count (one task sums its batches, which are no tasks)."""
    listed: Sequence[EmbedStats] = list(parts)
    durations = [float(p.get("duration_s") or 0) for p in listed]
    return {
        "tasks": tasks if tasks is not None else sum(int(p.get("tasks") or 0) for p in listed),
        "batches": sum(int(p.get("batches") or 0) for p in listed),
        "batches_skipped": sum(int(p.get("batches_skipped") or 0) for p in listed),
        "texts": sum(int(p.get("texts") or 0) for p in listed),
        "calls": sum(int(p.get("calls") or 0) for p in listed),
        "tokens_est": sum(int(p.get("tokens_est") or 0) for p in listed),
        "duration_s": round(sum(durations), 3),
        "wall_s": round(max(durations, default=0.0), 3),
    }


def merge_stats(
    customer_id: str,
    run_id: str,
    detect: DetectStats,
    chunked: ChunkStats | None = None,
    embed: EmbedStats | None = None,
    upsert: UpsertStats | None = None,
) -> RunStats:
    """One run's figures out of the stages' stats (a stage that did not run counts nothing)."""
    errors = [*detect["errors"], *(chunked["errors"] if chunked else []), *(upsert["errors"] if upsert else [])]
    stats: RunStats = {
        "run_id": run_id,
        "customer_id": customer_id,
        "dry_run": bool(detect.get("dry_run")),
        "generation": detect.get("generation"),
        "target_status": detect.get("target_status"),
        "switched": bool(upsert and upsert.get("switched")),
        "pages_total": detect.get("pages_total", 0),
        "pages_added": detect.get("new", 0),
        "pages_updated": detect.get("changed", 0),
        "pages_unchanged": detect.get("unchanged", 0),
        "pages_deleted": upsert.get("pages_deleted", 0) if upsert else 0,
        "pages_to_delete": detect.get("deleted", 0),
        "pages_written": upsert.get("pages_written", 0) if upsert else 0,
        "deletion_ratio": detect.get("deletion_ratio", 0.0),
        "deletion_blocked": detect.get("deletion_blocked"),
        "parents": chunked.get("parents", 0) if chunked else 0,
        "chunks": chunked.get("children", 0) if chunked else 0,
        "chunks_embedded": embed["texts"] if embed else 0,
        "chunks_reused": chunked.get("reused", 0) if chunked else 0,
        "embed_batches": chunked.get("embed_batches", 0) if chunked else 0,
        "embedding_calls": embed["calls"] if embed else 0,
        "tokens_est": embed["tokens_est"] if embed else 0,
        "errors": errors,
        "warnings": list(chunked.get("warnings", [])) if chunked else [],
        "durations_s": {
            "detect": detect.get("duration_s", 0.0),
            "chunk": chunked.get("duration_s", 0.0) if chunked else 0.0,
            "embed": embed["duration_s"] if embed else 0.0,
            "upsert": upsert.get("duration_s", 0.0) if upsert else 0.0,
        },
    }
    if "pages" in detect:
        stats["pages"] = detect["pages"]
    for key in ("permissions_changed", "pages_restricted", "pages_permissions_unknown"):
        if key in detect:
            stats[key] = int(detect[key])
    return stats
