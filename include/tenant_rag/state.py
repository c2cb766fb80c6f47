"""Customer state (``state.json``): what the last run did and whether the index can answer queries.

Writes go through a temp file and a rename, so a crash leaves the previous state and readers never see a torn
file. ``update_state`` serialises read-modify-write cycles of concurrent writers with a lock file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from tenant_rag.errors import StateError
from tenant_rag.fsutil import atomic_write_text, exclusive_lock
from tenant_rag.runs.record import RunRecord, RunSummary, upgrade_stored_state

STATE_FILE = "state.json"
STATE_LOCK = ".state.lock"
MAX_RUN_HISTORY = 20


class RAGStatus(StrEnum):
    NEVER_BUILT = "never_built"
    BUILDING = "building"
    READY = "ready"
    FAILED = "failed"
    DELETED = "deleted"


class StageProgress(BaseModel):
    model_config = ConfigDict(extra="ignore")
    stage: str
    done: int = 0
    total: int = 0
    rate_per_s: float | None = None
    eta_seconds: float | None = None
    updated_at: datetime | None = None


class CustomerState(BaseModel):
    model_config = ConfigDict(extra="ignore")

    customer_id: str
    status: RAGStatus = RAGStatus.NEVER_BUILT
    rag_collection_name: str | None = None
    last_index_time: datetime | None = None
    last_success_time: datetime | None = None
    total_indexed_documents: int = 0
    total_indexed_chunks: int = 0
    embedding_model: str | None = None
    embedding_dimensions: int | None = None
    is_ready_for_queries: bool = False
    last_error: str | None = None
    last_run_id: str | None = None
    last_run_stats: RunRecord | None = None
    progress: StageProgress | None = None
    run_history: list[RunSummary] = []
    # who may read what, as the last run that read it found (``rag.permissions``): pages under a read restriction,
    # pages whose permissions could not be read (hidden under enforcement), and when that run finished
    pages_restricted: int | None = None
    pages_permissions_unknown: int | None = None
    permissions_synced_at: datetime | None = None
    updated_at: datetime | None = None


def state_path(customer_dir: Path) -> Path:
    return customer_dir / STATE_FILE


def load_state(customer_dir: Path, customer_id: str | None = None) -> CustomerState:
    """Read state.json; a customer that never ran gets a fresh ``never_built`` state.

    Run entries written by older versions are converted to the current ``RunRecord``/``RunSummary`` here."""
    path = state_path(customer_dir)
    customer_id = customer_id or customer_dir.name
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return CustomerState(customer_id=customer_id)
    except (OSError, json.JSONDecodeError) as exc:
        raise StateError(f"customer {customer_id!r}: cannot read {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise StateError(f"customer {customer_id!r}: {path} is not a valid state: not a JSON object")
    try:
        return CustomerState.model_validate(upgrade_stored_state(raw))
    except ValidationError as exc:
        raise StateError(f"customer {customer_id!r}: {path} is not a valid state: {exc}") from exc


def save_state(customer_dir: Path, state: CustomerState) -> None:
    state = state.model_copy(update={"updated_at": datetime.now(UTC)})
    atomic_write_text(state_path(customer_dir), state.model_dump_json(indent=2) + "\n")


def update_state(
    customer_dir: Path, mutate: Callable[[CustomerState], CustomerState], customer_id: str | None = None
) -> CustomerState:
    """Read, change and write the state under a lock; ``mutate`` returns the new state."""
    customer_dir.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(customer_dir / STATE_LOCK):
        new_state = mutate(load_state(customer_dir, customer_id))
        save_state(customer_dir, new_state)
        return new_state


def append_run(history: list[RunSummary], run: RunSummary) -> list[RunSummary]:
    """The run history with ``run`` appended, newest last, bounded to ``MAX_RUN_HISTORY`` entries."""
    return [*history, run][-MAX_RUN_HISTORY:]
