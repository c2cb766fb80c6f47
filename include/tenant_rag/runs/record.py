"""The record of one indexing run, as ``state.json`` keeps it.

``CustomerState.last_run_stats`` holds the whole ``RunRecord`` of the last run; ``CustomerState.run_history`` holds
a ``RunSummary`` of each recent run, newest last. The DAG's ``record_state`` task and the in-process
``CustomerRAGManager`` both write these models. ``upgrade_stored_state`` turns what the in-process runs of older
versions wrote (``outcome`` and flat counts) into them when a state is loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from typing_extensions import TypedDict  # pydantic validates it on Python 3.11

RunStatus = Literal["success", "failed", "dry_run"]


class PagePreview(TypedDict):
    """The page ids a dry run would add, change and delete (the first ``PREVIEW_LIMIT`` of each)."""

    new: list[str]
    changed: list[str]
    deleted: list[str]


class RunCounts(BaseModel):
    """The headline counts of a run (zero for a stage that did not run)."""

    model_config = ConfigDict(extra="ignore")

    pages_total: int = 0
    pages_added: int = 0
    pages_updated: int = 0
    pages_unchanged: int = 0
    pages_deleted: int = 0
    pages_to_delete: int = 0
    pages_written: int = 0
    parents: int = 0
    chunks: int = 0
    chunks_embedded: int = 0
    chunks_reused: int = 0
    embed_batches: int = 0
    embedding_calls: int = 0
    tokens_est: int = 0
    switched: bool = False
    generation: int | None = None
    permissions_changed: int = 0  # pages whose readers changed (rewritten for it)
    pages_restricted: int | None = None  # None: the run did not read the pages' permissions
    pages_permissions_unknown: int | None = None

    def index_changed(self) -> bool:
        """Whether the run changed what queries see: pages written or deleted, or a generation switched live."""
        return bool(self.pages_written or self.pages_deleted or self.switched)


class ExportSummary(BaseModel):
    """Which pages the run exported: ``as_of`` is where the next manual run's window starts."""

    model_config = ConfigDict(extra="ignore")

    source: str | None = None
    mode: str | None = None
    reason: str | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    as_of: datetime | None = None


class RunSummary(BaseModel):
    """One entry of ``run_history``."""

    model_config = ConfigDict(extra="ignore")

    run_id: str
    run_type: str = "manual"
    status: RunStatus
    dry_run: bool = False
    logical_date: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
    export: ExportSummary = ExportSummary()
    counts: RunCounts = RunCounts()
    error: str | None = None


class RunRecord(RunSummary):
    """Everything recorded of one run: its summary plus params, per-stage stats and durations, task states,
    errors and warnings (pages indexed, but cleaned first), and a dry run's preview of the pages it would touch."""

    params: dict[str, Any] = {}
    started_at: datetime | None = None
    durations_s: dict[str, float | None] = {}
    stages: dict[str, dict[str, Any]] = {}  # the stage stats as the stages returned them, keyed by stage
    task_states: dict[str, str] = {}
    failed_tasks: list[str] = []
    errors: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    preview: PagePreview | None = None

    def summary(self) -> RunSummary:
        return RunSummary.model_validate(self.model_dump(include=set(RunSummary.model_fields)))


def _upgraded_run(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A run entry of either shape as a ``RunSummary``/``RunRecord`` dict: an older in-process entry says
    ``outcome`` and keeps its counts (and errors) at the top level."""
    if "outcome" not in entry and "status" in entry:
        return dict(entry)
    flat = {key: value for key, value in entry.items() if key != "outcome"}
    counts = {key: flat.pop(key) for key in list(flat) if key in RunCounts.model_fields}
    durations = flat.pop("durations_s", None)
    upgraded: dict[str, Any] = {
        **{key: value for key, value in flat.items() if key in RunRecord.model_fields},
        "status": entry.get("outcome") or "success",
        "counts": counts,
    }
    if isinstance(durations, Mapping):
        upgraded["durations_s"] = dict(durations)
    if isinstance(flat.get("pages"), Mapping):
        upgraded["preview"] = flat["pages"]
    upgraded["errors"] = [{"stage": "pages", **e} for e in flat.get("errors") or [] if isinstance(e, Mapping)]
    upgraded["warnings"] = [{"stage": "pages", **w} for w in flat.get("warnings") or [] if isinstance(w, Mapping)]
    return upgraded


def upgrade_stored_state(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A ``state.json`` document with its run entries in the current shape (older ones converted).

    ``last_run_stats`` of an in-process run was the flat run stats (no ``status``); an empty one means no run."""
    upgraded = dict(raw)
    history = raw.get("run_history")
    if isinstance(history, list):
        upgraded["run_history"] = [_upgraded_run(e) for e in history if isinstance(e, Mapping) and e.get("run_id")]
    last = raw.get("last_run_stats")
    if isinstance(last, Mapping):
        upgraded["last_run_stats"] = _upgraded_run(last) if last.get("run_id") else None
    return upgraded
