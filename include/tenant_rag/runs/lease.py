"""One run at a time per customer: a lease file ``<customer>/cache/run_lease.json`` that heals itself.

``max_active_runs=1`` serialises a DAG's scheduled and manual runs, but a backfill's runs are counted separately
and may overlap a manual run; two runs of one customer would share its export folder and race on its store. The
first task of a run takes this lease (or waits), the writing task checks it still holds it, the last task releases
it. While any task of the holding run works, it refreshes ``heartbeat_at`` every quarter of the TTL
(``keep_alive``).

A run killed with ``kill -9`` (OOM, lost worker) releases nothing. Its lease is taken over when

- the caller's probe says the holder is ``GONE`` (its run finished, failed or was deleted), or
- the holder's heartbeat is older than the TTL (``TENANT_RAG_LEASE_TTL_SECONDS``, default 600) and the probe does
  not say it is ``WAITING`` (tasks queued, in a pool or in retry back-off: they heartbeat again when they start).

Every read-modify-write of the file holds an exclusive ``flock`` on ``run_lease.lock`` next to it, so of two
contenders exactly one wins.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from tenant_rag.fsutil import atomic_write_json, exclusive_lock
from tenant_rag.settings import settings

log = logging.getLogger(__name__)

LEASE_FILE = "run_lease.json"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class LeaseLostError(RuntimeError):
    """The run no longer holds its customer's lease (another run took it over); retrying re-checks."""


class HolderState(StrEnum):
    """What the caller knows of the run holding the lease."""

    GONE = "gone"  # finished, failed or deleted: take over at once
    WAITING = "waiting"  # alive, its next task not started yet: never take over
    RUNNING = "running"  # a task claims to run: take over only when its heartbeat stopped
    UNKNOWN = "unknown"  # nobody could tell: the heartbeat decides


HolderProbe = Callable[[str], HolderState]


@dataclass(frozen=True)
class Lease:
    run_id: str
    acquired_at: datetime
    heartbeat_at: datetime
    host: str = ""
    pid: int = 0
    took_over: str | None = None

    def age(self, now: datetime) -> timedelta:
        """Time since the holder last showed a sign of life."""
        return now - self.heartbeat_at

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(acquired_at=self.acquired_at.isoformat(), heartbeat_at=self.heartbeat_at.isoformat())
        return data


def lease_ttl_seconds() -> float:
    """``TENANT_RAG_LEASE_TTL_SECONDS`` (seconds without a heartbeat after which a lease may be taken over)."""
    return settings().lease_ttl_seconds


def lease_path(customer_dir: Path) -> Path:
    return customer_dir / "cache" / LEASE_FILE


def _instant(value: Any) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return _EPOCH  # unreadable: as old as can be
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def read_lease(customer_dir: Path) -> Lease | None:
    try:
        data = json.loads(lease_path(customer_dir).read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or not data.get("run_id"):
        return None
    acquired = _instant(data.get("acquired_at"))
    return Lease(
        run_id=str(data["run_id"]),
        acquired_at=acquired,
        heartbeat_at=_instant(data["heartbeat_at"]) if data.get("heartbeat_at") else acquired,
        host=str(data.get("host") or ""),
        pid=int(data.get("pid") or 0),
        took_over=data.get("took_over"),
    )


def _locked(customer_dir: Path) -> AbstractContextManager[None]:
    """The lease's lock; creates ``cache/`` but never the customer folder itself."""
    path = lease_path(customer_dir)
    path.parent.mkdir(exist_ok=True)
    return exclusive_lock(path.with_suffix(".lock"))


def _write(customer_dir: Path, lease: Lease) -> None:
    atomic_write_json(lease_path(customer_dir), lease.to_dict())


def may_take_over(holder: Lease, probe: HolderProbe | None, ttl: float, now: datetime) -> bool:
    """Whether ``holder``'s lease may be taken by another run (see the module docstring)."""
    state = probe(holder.run_id) if probe is not None else HolderState.UNKNOWN
    if state is HolderState.GONE:
        return True
    if state is HolderState.WAITING:
        return False
    return holder.age(now) > timedelta(seconds=ttl)


def acquire_lease(
    customer_dir: Path,
    run_id: str,
    probe: HolderProbe | None = None,
    *,
    ttl: float | None = None,
    now: datetime | None = None,
) -> Lease | None:
    """Take (or refresh) the lease for ``run_id``; return the holder instead when another live run has it."""
    ttl = lease_ttl_seconds() if ttl is None else ttl
    with _locked(customer_dir):
        now = now or datetime.now(UTC)
        current = read_lease(customer_dir)
        if current is not None and current.run_id != run_id and not may_take_over(current, probe, ttl, now):
            return current
        if current is not None and current.run_id != run_id:
            beat = current.heartbeat_at.isoformat()
            log.warning("run %s takes over the lease of run %s (last heartbeat %s)", run_id, current.run_id, beat)
        mine = current if current is not None and current.run_id == run_id else None
        _write(
            customer_dir,
            Lease(
                run_id=run_id,
                acquired_at=mine.acquired_at if mine else now,
                heartbeat_at=now,
                host=socket.gethostname(),
                pid=os.getpid(),
                took_over=(mine.took_over if mine else current.run_id if current else None),
            ),
        )
        return None


def heartbeat(customer_dir: Path, run_id: str, now: datetime | None = None) -> bool:
    """Refresh ``run_id``'s heartbeat; False (and nothing written) when it does not hold the lease."""
    current = read_lease(customer_dir)
    if current is None or current.run_id != run_id:
        return False
    with _locked(customer_dir):
        current = read_lease(customer_dir)
        if current is None or current.run_id != run_id:
            return False
        beat = now or datetime.now(UTC)
        _write(customer_dir, Lease(**{**asdict(current), "heartbeat_at": beat, "pid": os.getpid()}))
        return True


def check_lease(customer_dir: Path, run_id: str) -> None:
    """Raise ``LeaseLostError`` unless ``run_id`` holds the lease (refreshing its heartbeat)."""
    if not heartbeat(customer_dir, run_id):
        current = read_lease(customer_dir)
        holder = current.run_id if current else "nobody"
        raise LeaseLostError(f"run {run_id} does not hold the customer's run lease ({holder} does)")


def release_lease(customer_dir: Path, run_id: str) -> bool:
    """Drop the lease if ``run_id`` holds it; False when it did not."""
    if not lease_path(customer_dir).parent.is_dir():
        return False
    with _locked(customer_dir):
        current = read_lease(customer_dir)
        if current is None or current.run_id != run_id:
            return False
        lease_path(customer_dir).unlink(missing_ok=True)
        return True


def heartbeat_interval(ttl: float) -> float:
    return min(60.0, max(0.25, ttl / 4))


@contextmanager
def keep_alive(customer_dir: Path, run_id: str, interval: float | None = None) -> Iterator[None]:
    """While the block runs, refresh ``run_id``'s heartbeat from a daemon thread (if and while it holds the lease).

    A failing refresh is logged, never raised: the block's own work decides the task's outcome.
    """
    every = heartbeat_interval(lease_ttl_seconds()) if interval is None else interval
    stop = threading.Event()

    def beat() -> None:
        while True:
            try:
                heartbeat(customer_dir, run_id)
            except OSError:
                log.warning("could not refresh the run lease of %s", run_id, exc_info=True)
            if stop.wait(every):
                return

    thread = threading.Thread(target=beat, name=f"lease-heartbeat-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
