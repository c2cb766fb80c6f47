"""The customer's run lease: heartbeat + TTL, what a probe of the holder decides, and one winner per race."""

from __future__ import annotations

import json
import multiprocessing
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tenant_rag.constants import LEASE_TTL_ENV
from tenant_rag.errors import SettingsError
from tenant_rag.runs.lease import (
    HolderState,
    LeaseLostError,
    acquire_lease,
    check_lease,
    heartbeat,
    keep_alive,
    lease_path,
    lease_ttl_seconds,
    read_lease,
    release_lease,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TTL = 60.0


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def customer(tmp_path: Path) -> Path:
    folder = tmp_path / "acme"
    folder.mkdir()
    return folder


def test_a_live_holder_keeps_the_lease_and_a_retry_of_it_refreshes_it(customer: Path) -> None:
    assert acquire_lease(customer, "run-a", ttl=TTL, now=at(0)) is None
    assert acquire_lease(customer, "run-a", ttl=TTL, now=at(30)) is None  # a retried export of the same run
    lease = read_lease(customer)
    assert lease is not None and (lease.acquired_at, lease.heartbeat_at) == (at(0), at(30))
    holder = acquire_lease(customer, "run-b", ttl=TTL, now=at(30 + TTL))  # exactly TTL old: still live
    assert holder is not None and holder.run_id == "run-a"
    with pytest.raises(LeaseLostError, match="run-a does"):
        check_lease(customer, "run-b")
    assert not release_lease(customer, "run-b")
    assert read_lease(customer) == lease


def test_an_expired_heartbeat_is_taken_over_and_the_old_holder_learns_it(customer: Path) -> None:
    assert acquire_lease(customer, "run-a", ttl=TTL, now=at(0)) is None
    assert heartbeat(customer, "run-a", now=at(50))
    assert acquire_lease(customer, "run-b", ttl=TTL, now=at(50 + TTL + 1)) is None
    lease = read_lease(customer)
    assert lease is not None and lease.run_id == "run-b" and lease.took_over == "run-a"
    assert not heartbeat(customer, "run-a", now=at(200))  # the killed run's heartbeat, were it to come back
    with pytest.raises(LeaseLostError):
        check_lease(customer, "run-a")
    check_lease(customer, "run-b")
    assert not release_lease(customer, "run-a") and release_lease(customer, "run-b")
    assert not lease_path(customer).exists()


@pytest.mark.parametrize(
    ("state", "age", "taken_over"),
    [
        (HolderState.GONE, 0, True),  # its run failed or was deleted: no need to wait for the TTL
        (HolderState.WAITING, 10 * TTL, False),  # queued, in a pool or in retry back-off: it will heartbeat again
        (HolderState.RUNNING, TTL - 1, False),
        (HolderState.RUNNING, TTL + 1, True),  # a task claims to run but nothing heartbeats: killed
        (HolderState.UNKNOWN, TTL - 1, False),
        (HolderState.UNKNOWN, TTL + 1, True),
    ],
)
def test_what_the_probe_says_about_the_holder(customer: Path, state: HolderState, age: float, taken_over: bool) -> None:
    assert acquire_lease(customer, "run-a", ttl=TTL, now=at(0)) is None
    asked: list[str] = []

    def probe(run_id: str) -> HolderState:
        asked.append(run_id)
        return state

    holder = acquire_lease(customer, "run-b", probe, ttl=TTL, now=at(age))
    assert asked == ["run-a"]
    assert (holder is None) is taken_over
    lease = read_lease(customer)
    assert lease is not None and lease.run_id == ("run-b" if taken_over else "run-a")


def test_a_lease_without_a_readable_time_counts_as_expired(customer: Path) -> None:
    lease_path(customer).parent.mkdir()
    lease_path(customer).write_text(json.dumps({"run_id": "manual__old", "acquired_at": "x"}), encoding="utf-8")
    assert acquire_lease(customer, "run-b", ttl=TTL, now=at(0)) is None


def test_the_lease_never_creates_the_customer_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nobody"
    with pytest.raises(FileNotFoundError):
        acquire_lease(missing, "run-a", ttl=TTL)
    assert not heartbeat(missing, "run-a") and not release_lease(missing, "run-a")
    assert not missing.exists()


def test_the_ttl_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LEASE_TTL_ENV, raising=False)
    assert lease_ttl_seconds() == 600.0
    monkeypatch.setenv(LEASE_TTL_ENV, "45")
    assert lease_ttl_seconds() == 45.0
    for bad in ("soon", "0", "-5", "nan"):
        monkeypatch.setenv(LEASE_TTL_ENV, bad)
        with pytest.raises(SettingsError, match=LEASE_TTL_ENV):
            lease_ttl_seconds()


def test_keep_alive_refreshes_the_heartbeat_while_its_block_runs(customer: Path) -> None:
    assert acquire_lease(customer, "run-a", ttl=TTL, now=at(0)) is None  # an old heartbeat
    with keep_alive(customer, "run-a", interval=0.05):
        deadline = datetime.now(UTC) + timedelta(seconds=30)
        while (lease := read_lease(customer)) is not None and lease.heartbeat_at == at(0):
            assert datetime.now(UTC) < deadline, "no heartbeat within 30s"
            time.sleep(0.05)
    lease = read_lease(customer)
    assert lease is not None and lease.heartbeat_at > at(0) and lease.run_id == "run-a"


def test_keep_alive_does_nothing_for_a_run_without_the_lease(customer: Path) -> None:
    with keep_alive(customer, "run-x", interval=0.01):
        pass
    assert read_lease(customer) is None and not (customer / "cache").exists()


def _contend(customer: str, run_id: str, start: Any, won: Any) -> None:
    start.wait(timeout=60)
    won.put((run_id, acquire_lease(Path(customer), run_id, lambda _: HolderState.RUNNING, ttl=TTL) is None))


def test_of_contenders_for_an_expired_lease_exactly_one_wins(customer: Path) -> None:
    assert acquire_lease(customer, "dead", ttl=TTL, now=at(0)) is None  # long expired
    context = multiprocessing.get_context("fork")
    contenders = [f"run-{i}" for i in range(4)]
    start, won = context.Barrier(len(contenders)), context.Queue()
    processes = [context.Process(target=_contend, args=(str(customer), r, start, won)) for r in contenders]
    for process in processes:
        process.start()
    results = dict(won.get(timeout=60) for _ in contenders)
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    winners = [run_id for run_id, ok in results.items() if ok]
    assert len(winners) == 1
    lease = read_lease(customer)
    assert lease is not None and lease.run_id == winners[0] and lease.took_over == "dead"
