"""Several page-batch writers at once: each batch is one transaction (``replace_pages``) on its own connection.

Writing is server-bound (COPY, index and term-statistics maintenance), so a build or a large update spreads its
batches over ``writers`` connections. Batches hold disjoint pages and each locks its own pages, so
they commit independently and in any order; readers still see every page either old or new. With one writer the
batches are written inline on the caller's connection (no thread, no second connection).

``add`` groups pages into batches of at most ``PAGES_PER_TRANSACTION`` pages, ``CHUNKS_PER_TRANSACTION`` chunks
and ``BYTES_PER_TRANSACTION`` bytes of text and vectors (large pages make small batches). The queue in front of
the writers is bounded (one batch per writer waiting) and a writer lets go of a batch once it committed, so memory
stays flat however many pages a run writes and however they cluster by size. The first failure stops the writers
and is raised by ``close``/``__exit__``; batches that committed before it stay written, which a re-run of the stage
tolerates (a page swapped twice ends the same).

A batch the database refuses for what one of its rows holds (``ROW_REFUSALS``) is written again a page per
transaction: its other pages commit, and the page refused is kept out, with its old rows if any, and listed in
``refused``. Anything else (a lost connection, a deadlock, a full disk) still stops the writers.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import psycopg

from tenant_rag.store.names import StoreNames
from tenant_rag.store.writer import PageRows, replace_pages

log = logging.getLogger(__name__)

PAGES_PER_TRANSACTION = 50
CHUNKS_PER_TRANSACTION = 5000
# Measured (bench 5, the corpora x10 in page order): big pages cluster, and 5,000-chunk batches of them held
# ~75 MB in flight; with this budget the batches in flight stay at a few tens of MB.
BYTES_PER_TRANSACTION = 4 << 20

# What the database raises for what a page's text holds, not for the connection, the transaction or the pipeline:
# a character the server encoding cannot hold (22021: a NUL in text; 22P05 on a non-UTF-8 server) and a value over a
# size limit (54000: a tsvector over 1 MB, an index row too large). Deliberately not the whole of class 22: its
# generic 22000 is what pgvector raises for a vector of the wrong size, which is the pipeline's fault, would hit
# every page, and must fail the run; nor class 23: page ids are unique per export and rows are keyed by page, so a
# constraint violation is a bug, not a bad page.
ROW_REFUSALS: tuple[type[psycopg.Error], ...] = (
    psycopg.errors.CharacterNotInRepertoire,
    psycopg.errors.UntranslatableCharacter,
    psycopg.errors.ProgramLimitExceeded,
)

ConnectionFactory = Callable[[], AbstractContextManager[psycopg.Connection[Any]]]
BatchDone = Callable[[Sequence[PageRows]], None]
_STOP = object()


@dataclass(frozen=True)
class RefusedPage:
    """A page the database refused to store (``ROW_REFUSALS``): its old rows, if any, are kept."""

    page_id: str
    rel_path: str
    sqlstate: str | None
    reason: str

    @classmethod
    def of(cls, page: PageRows, error: psycopg.Error) -> RefusedPage:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        reason = f"refused by the database ({error.sqlstate or 'client'} {type(error).__name__}): {message}"
        return cls(page.document.page_id, page.document.rel_path, error.sqlstate, reason)

    def to_error(self) -> dict[str, str]:
        """The run's per-page error entry."""
        return {"file": self.rel_path, "page_id": self.page_id, "error": self.reason}


@dataclass(frozen=True)
class BatchLimits:
    """When ``ParallelPageWriter.add`` closes a batch: whichever limit a page reaches first."""

    pages: int = PAGES_PER_TRANSACTION
    chunks: int = CHUNKS_PER_TRANSACTION
    bytes: int = BYTES_PER_TRANSACTION


def page_bytes(page: PageRows) -> int:
    """Rough size of a page's rows in memory and on the wire: texts and vectors."""
    return sum(len(c.text) + len(c.context) + c.embedding.nbytes for c in page.chunks) + sum(
        len(p.text) for p in page.parents
    )


class ParallelPageWriter:
    """Writes submitted page batches through ``writers`` connections; use as a context manager.

    ``connect`` opens one connection per extra writer (with one writer, ``conn`` writes inline). ``on_done`` runs
    after each committed batch, serialised (never two at once), in the thread that wrote it.
    """

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        names: StoreNames,
        generation: int,
        *,
        writers: int = 1,
        connect: ConnectionFactory | None = None,
        on_done: BatchDone | None = None,
        limits: BatchLimits | None = None,
    ) -> None:
        if writers > 1 and connect is None:
            raise ValueError("parallel writers need a connection factory")
        self.conn = conn
        self.names = names
        self.generation = generation
        self.writers = max(1, writers)
        self.connect = connect
        self.on_done = on_done
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=self.writers)
        self._threads: list[threading.Thread] = []
        self._done_lock = threading.Lock()
        self._error: BaseException | None = None
        self._failed = threading.Event()
        self.limits = limits or BatchLimits()
        self._pending: list[PageRows] = []
        self._pending_chunks = self._pending_bytes = 0
        self._refused: list[RefusedPage] = []

    @property
    def refused(self) -> list[RefusedPage]:
        """The pages the database refused so far, in no particular order."""
        with self._done_lock:
            return list(self._refused)

    def __enter__(self) -> ParallelPageWriter:
        if self.writers > 1:
            for number in range(self.writers):
                thread = threading.Thread(
                    target=self._work, name=f"page-writer-{self.names.schema}-{number}", daemon=True
                )
                thread.start()
                self._threads.append(thread)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            self.flush()
        else:
            self._pending = []
        self.close(raise_error=exc is None)

    def add(self, page: PageRows) -> None:
        """Add one page to the batch being filled; submit the batch when it reaches a limit (``flush`` ends it)."""
        self._pending.append(page)
        self._pending_chunks += len(page.chunks)
        self._pending_bytes += page_bytes(page)
        limits = self.limits
        if (
            len(self._pending) >= limits.pages
            or self._pending_chunks >= limits.chunks
            or self._pending_bytes >= limits.bytes
        ):
            self.flush()

    def flush(self) -> None:
        """Submit the pages added since the last batch (if any)."""
        batch, self._pending = self._pending, []
        self._pending_chunks = self._pending_bytes = 0
        self.submit(batch)

    def submit(self, batch: Sequence[PageRows]) -> None:
        """Write ``batch`` (one transaction); blocks while every writer is busy; raises a writer's failure."""
        if not batch:
            return
        if not self._threads:
            self._write(self.conn, batch)
            return
        while True:
            self._raise_if_failed()
            try:
                self._queue.put(list(batch), timeout=0.2)
                return
            except queue.Full:
                continue

    def close(self, *, raise_error: bool = True) -> None:
        """Wait for the batches in flight; raise the first failure (unless ``raise_error`` is False)."""
        for _ in self._threads:  # one stop per writer; every writer keeps taking from the queue until its stop
            self._queue.put(_STOP)
        for thread in self._threads:
            thread.join()
        self._threads = []
        if raise_error:
            self._raise_if_failed()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def _write(self, conn: psycopg.Connection[Any], batch: Sequence[PageRows]) -> None:
        try:
            replace_pages(conn, self.names, self.generation, batch)
        except ROW_REFUSALS as exc:
            batch = self._write_one_by_one(conn, batch, exc)
        if self.on_done is not None and batch:
            with self._done_lock:
                self.on_done(batch)

    def _write_one_by_one(
        self, conn: psycopg.Connection[Any], batch: Sequence[PageRows], error: psycopg.Error
    ) -> list[PageRows]:
        """Write a refused batch a page per transaction; return the pages written and record the refused ones."""
        if len(batch) == 1:
            self._refuse(batch[0], error)
            return []
        written: list[PageRows] = []
        for page in batch:
            try:
                replace_pages(conn, self.names, self.generation, [page])
            except ROW_REFUSALS as exc:
                self._refuse(page, exc)
            else:
                written.append(page)
        return written

    def _refuse(self, page: PageRows, error: psycopg.Error) -> None:
        refused = RefusedPage.of(page, error)
        log.warning("customer %s: page %s not written: %s", self.names.customer_id, refused.page_id, refused.reason)
        with self._done_lock:
            self._refused.append(refused)

    def _batches(self) -> Iterator[list[PageRows]]:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if not self._failed.is_set():
                yield item
            del item  # not held while waiting for the next one

    def _work(self) -> None:
        assert self.connect is not None
        try:
            with self.connect() as conn:
                for batch in self._batches():
                    self._write(conn, batch)
                    del batch  # committed: not held while waiting for the next one
        except BaseException as exc:  # handed to the submitting thread; the other writers drain and stop
            log.debug("customer %s: page writer failed", self.names.customer_id, exc_info=True)
            with self._done_lock:
                if self._error is None:
                    self._error = exc
            self._failed.set()
            for _ in self._batches():  # keep draining so submit()/close() never block on a dead writer
                pass
