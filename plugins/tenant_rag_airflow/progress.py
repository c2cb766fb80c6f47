"""Progress of a long stage: counters updated by the library, reported on a steady clock.

The library calls ``reporter(done, total)`` (or ``reporter(stage, done, total)``) as often as it likes (cheap:
two assignments). A daemon thread logs ``done/total, rate, ETA`` every ``interval`` seconds
(``TENANT_RAG_PROGRESS_SECONDS``, default 30) and writes the same figures into the customer's ``state.json`` as
``StageProgress``, so a long export or embedding never looks silent and the status API can show where a run is.
A dry run logs but does not write the state.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from tenant_rag.state import RAGStatus, StageProgress, update_state
from tenant_rag_airflow.constants import DEFAULT_PROGRESS_INTERVAL_SECONDS, PROGRESS_INTERVAL_ENV


def progress_interval() -> float:
    try:
        return max(0.2, float(os.environ.get(PROGRESS_INTERVAL_ENV, DEFAULT_PROGRESS_INTERVAL_SECONDS)))
    except ValueError:
        return DEFAULT_PROGRESS_INTERVAL_SECONDS


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
        total: int = 0,
        interval: float | None = None,
        write_state: bool = True,
    ) -> None:
        self.stage = stage
        self.unit = unit
        self.log = log
        self.customer_dir = customer_dir
        self.customer_id = customer_id
        self.total = total
        self.done = 0
        self.interval = interval if interval is not None else progress_interval()
        self.write_state = write_state and customer_dir is not None
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_reported: tuple[int, int] | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        """``(done, total)`` or the pipeline's ``(stage, done, total)``; keywords ``done``/``total`` work too."""
        values = list(args[1:] if args and isinstance(args[0], str) else args)
        done = kwargs.get("done", values[0] if values else self.done)
        total = kwargs.get("total", values[1] if len(values) > 1 else None)
        self.done = int(done)
        if total is not None:
            self.total = int(total)

    def advance(self, count: int = 1) -> None:
        self.done += count

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
        if self.write_state:
            self._write(snap)

    def _write(self, snap: StageProgress) -> None:
        assert self.customer_dir is not None

        def mutate(state: Any) -> Any:
            status = state.status if state.status == RAGStatus.DELETED else RAGStatus.BUILDING
            return state.model_copy(update={"progress": snap, "status": status})

        try:
            update_state(self.customer_dir, mutate, self.customer_id)
        except Exception:  # progress is informative; never fail a stage because of it
            self.log.warning("%s: could not write progress to state.json", self.stage, exc_info=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.report()

    def __enter__(self) -> ProgressReporter:
        self._started = time.monotonic()
        if self.write_state:
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
