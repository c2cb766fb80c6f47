"""One run at a time per customer, even across backfills: a lease file in the customer's ``cache/``.

``max_active_runs=1`` serialises a DAG's scheduled and manual runs, but Airflow 3 counts a backfill's runs
separately (``airflow backfill create`` runs up to 10 at once unless ``--max-active-runs`` is given), and a backfill
may overlap a manual run. Two runs of one customer would share its export folder and race on its store, so the
export task takes this lease (or is rescheduled until it is free), upsert checks it still holds it, and the final
task releases it. A lease whose run is no longer queued or running (killed worker, deleted run) is taken over.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tenant_rag.fsutil import atomic_write_json

LEASE_FILE = "run_lease.json"


class LeaseLostError(RuntimeError):
    """The run no longer holds its customer's lease (another run took it over); retrying re-checks."""


def lease_path(customer_dir: Path) -> Path:
    return customer_dir / "cache" / LEASE_FILE


@contextmanager
def _locked(customer_dir: Path) -> Iterator[None]:
    path = lease_path(customer_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_lease(customer_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(lease_path(customer_dir).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) and data.get("run_id") else None


def acquire_lease(customer_dir: Path, run_id: str, is_alive: Callable[[str], bool]) -> dict[str, Any] | None:
    """Take the lease for ``run_id``; return the holder's record instead when another live run has it."""
    with _locked(customer_dir):
        current = read_lease(customer_dir)
        if current is not None and current["run_id"] != run_id and is_alive(str(current["run_id"])):
            return current
        atomic_write_json(
            lease_path(customer_dir),
            {
                "run_id": run_id,
                "acquired_at": datetime.now(UTC).isoformat(),
                "took_over": current["run_id"] if current and current["run_id"] != run_id else None,
            },
        )
        return None


def check_lease(customer_dir: Path, run_id: str) -> None:
    current = read_lease(customer_dir)
    if current is None or current["run_id"] != run_id:
        holder = current["run_id"] if current else "nobody"
        raise LeaseLostError(f"run {run_id} does not hold the customer's run lease ({holder} does)")


def release_lease(customer_dir: Path, run_id: str) -> bool:
    """Drop the lease if ``run_id`` holds it; False when it did not."""
    with _locked(customer_dir):
        current = read_lease(customer_dir)
        if current is None or current["run_id"] != run_id:
            return False
        lease_path(customer_dir).unlink(missing_ok=True)
        return True
