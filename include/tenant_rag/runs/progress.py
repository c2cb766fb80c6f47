"""Progress of a run's long stages: counters updated by the pipeline, reported on a steady clock.

The pipeline calls ``reporter(done, total)`` (the export) or ``reporter(stage, done, total)`` (the other stages)
as often as it likes. Once ``interval`` seconds have passed since the last report, the call reports: it logs
``done/total, rate, ETA`` and writes the same figures into the customer's ``state.json`` as ``StageProgress``, so
the status API can show where a run is. A daemon thread reports too while no calls come, so a long export or
embedding call never looks silent. A dry run (``customer_dir=None``) logs but writes nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from tenant_rag.state import CustomerState, RAGStatus, StageProgress, update_state

#: The thread looks at least this far apart (an ``interval`` of 0 reports on every call, not in a busy loop).
MIN_THREAD_WAIT_S = 0.2


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


class ProgressReporter:
    """Context manager: ``with ProgressReporter(...) as progress: library_call(progress=progress)``."""

    def __init__(
        self,
        *,
        stage: str,
        unit: str,
        log: logging.Logger | Any,
        customer_dir: Path | None,
        customer_id: str,
        interval: float,
        total: int = 0,
    ) -> None:
        self.stage = stage
        self.unit = unit
        self.log = log
        self.customer_dir = customer_dir
        self.customer_id = customer_id
        self.interval = interval
        self.total = total
        self.done = 0
        self._started = time.monotonic()
        self._last_report_at = self._started
        self._last_reported: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, *args: Any) -> None:
        """``(done, total)`` or the pipeline's ``(stage, done, total)``; a new stage starts its own rate."""
        if args and isinstance(args[0], str):
            stage, *args_ = args
            if stage != self.stage:
                self.stage, self._started, self._last_reported = stage, time.monotonic(), None
            args = tuple(args_)
        self.done = int(args[0])
        if len(args) > 1:
            self.total = int(args[1])
        if time.monotonic() - self._last_report_at >= self.interval:
            self.report()

    @property
    def rate(self) -> float | None:
        elapsed = time.monotonic() - self._started
        return self.done / elapsed if elapsed > 0 and self.done else None

    @property
    def eta_seconds(self) -> float | None:
        rate = self.rate
        if not rate or not self.total or self.done >= self.total:
            return 0.0 if self.total and self.done >= self.total else None
        return (self.total - self.done) / rate

    def snapshot(self) -> StageProgress:
        rate = self.rate
        return StageProgress(
            stage=self.stage,
            done=self.done,
            total=self.total,
            rate_per_s=round(rate, 3) if rate else None,
            eta_seconds=round(eta, 1) if (eta := self.eta_seconds) is not None else None,
            updated_at=datetime.now(UTC),
        )

    def report(self, *, final: bool = False) -> None:
        with self._lock:
            self._last_report_at = time.monotonic()
            snap = self.snapshot()
            if not final and self._last_reported == (snap.done, snap.total):
                self.log.info("%s: still working, %d/%d %s so far", self.stage, snap.done, snap.total, self.unit)
            else:
                self.log.info(
                    "%s: %d/%d %s, %s/s, ETA %s",
                    self.stage,
                    snap.done,
                    snap.total,
                    self.unit,
                    f"{snap.rate_per_s:.1f}" if snap.rate_per_s else "-",
                    format_eta(snap.eta_seconds),
                )
            self._last_reported = (snap.done, snap.total)
            self._write(snap)

    def _write(self, snap: StageProgress) -> None:
        if self.customer_dir is None:
            return

        def mutate(state: CustomerState) -> CustomerState:
            status = state.status if state.status == RAGStatus.DELETED else RAGStatus.BUILDING
            return state.model_copy(update={"progress": snap, "status": status})

        try:
            update_state(self.customer_dir, mutate, self.customer_id)
        except Exception:  # progress is informative; never fail a stage because of it
            self.log.warning("%s: could not write progress to state.json", self.stage, exc_info=True)

    def _run(self) -> None:
        while not self._stop.wait(max(MIN_THREAD_WAIT_S, self._last_report_at + self.interval - time.monotonic())):
            if time.monotonic() - self._last_report_at >= self.interval:
                self.report()

    def __enter__(self) -> ProgressReporter:
        self._started = self._last_report_at = time.monotonic()
        self._write(self.snapshot())
        self._thread = threading.Thread(target=self._run, name=f"progress-{self.stage}", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if exc_type is None:
            self.report(final=True)
