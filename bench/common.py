"""Shared helpers for the benchmarks: machine info, a bench database, timing, peak RSS, JSON + Markdown results.

Every benchmark calls :func:`write_result` with its figures; ``bench.run_all`` stitches the Markdown tables into
``bench/results/RESULTS.md``. Nothing here asserts on time: benchmarks report, tests check behaviour.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"
BENCH_EXTRA = ROOT / ".run" / "bench-extra"
CORPORA_DIR = Path(os.environ.get("TENANT_RAG_SHARED_DIR", ROOT.parent / "shared")) / "data" / "corpora"
BENCH_DB_ENV = "TENANT_RAG_BENCH_DATABASE_URL"

for _folder in (ROOT / "plugins", ROOT / "include"):  # the layout Airflow and the Makefile use (PYTHONPATH)
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))


# --------------------------------------------------------------------------- machine


def machine_info() -> dict[str, Any]:
    """CPU model, cores, memory, OS and Python: printed by every benchmark and stored with its result."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gb = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gb": mem_gb,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def machine_line(info: dict[str, Any] | None = None) -> str:
    info = info or machine_info()
    return f"{info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB RAM, {info['os']}, Python {info['python']}"


# --------------------------------------------------------------------------- database


def bench_server_url() -> str:
    """The server the benchmarks write to: ``TENANT_RAG_BENCH_DATABASE_URL`` or the embedded one under .run/."""
    if os.environ.get(BENCH_DB_ENV):
        return os.environ[BENCH_DB_ENV]
    from tenant_rag import embedded_pg

    return embedded_pg.start(ROOT / ".run" / "bench-pgdata").url


def with_database(url: str, database: str) -> str:
    return urlparse(url)._replace(path=f"/{database}").geturl()


@contextlib.contextmanager
def fresh_database(name: str, *, copy_of: str | None = None) -> Iterator[str]:
    """A new database on the bench server (dropped afterwards); yields its URL.

    Empty with ``vector`` installed, or with ``copy_of`` (a URL) a file-level copy of that database
    (``CREATE DATABASE ... TEMPLATE``: nobody may be connected to the source meanwhile).
    """
    import psycopg
    from psycopg import sql

    server = bench_server_url()
    dbname = f"bench_{name}_{os.getpid()}"
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname))
    if copy_of is not None:
        create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(urlparse(copy_of).path.lstrip("/")))
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
        conn.execute(create)
    url = with_database(server, dbname)
    if copy_of is None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    try:
        yield url
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


def server_versions(url: str) -> dict[str, str]:
    import psycopg

    with psycopg.connect(url) as conn:
        pg = conn.execute("SHOW server_version").fetchone()
        vec = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
    return {"postgres": str(pg[0]) if pg else "?", "pgvector": str(vec[0]) if vec else "?"}


def add_bench_extra_to_path() -> None:
    """Make the bench-only packages (langchain-postgres) importable; they never enter requirements.txt."""
    if BENCH_EXTRA.is_dir() and str(BENCH_EXTRA) not in sys.path:
        sys.path.append(str(BENCH_EXTRA))


# --------------------------------------------------------------------------- timing and memory


@dataclass
class Timing:
    label: str
    seconds: float
    rows: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def timed(label: str, fn: Callable[[], Any], *, rows: int = 0) -> tuple[Timing, Any]:
    """Run ``fn`` once and time it with ``perf_counter``."""
    start = time.perf_counter()
    value = fn()
    return Timing(label, time.perf_counter() - start, rows), value


def percentile(values: Sequence[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """As timeit does: no garbage-collector pause inside the timed loop (it is not the measured system's latency)."""
    import gc

    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def latency_summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    ms = [s * 1000.0 for s in seconds]
    return {
        "p50_ms": round(percentile(ms, 50), 3),
        "p95_ms": round(percentile(ms, 95), 3),
        "mean_ms": round(statistics.fmean(ms), 3) if ms else float("nan"),
        "n": len(ms),
    }


def ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else float("inf")


class RssSampler:
    """Peak resident memory of this process (and optionally its children) while the block runs, sampled by a thread.

    ``ru_maxrss`` is a high-water mark for the whole process life, so a block's own peak needs sampling.
    """

    def __init__(self, interval: float = 0.05, *, children: bool = True) -> None:
        self.interval = interval
        self.children = children
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _current(self) -> int:
        import psutil

        proc = psutil.Process()
        total = proc.memory_info().rss
        if self.children:
            for child in proc.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    total += child.memory_info().rss
        return int(total)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(Exception):
                self.peak_bytes = max(self.peak_bytes, self._current())
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self.peak_bytes = self._current()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2)
        with contextlib.suppress(Exception):
            self.peak_bytes = max(self.peak_bytes, self._current())

    @property
    def peak_mb(self) -> float:
        return round(self.peak_bytes / 1024 / 1024, 1)


def process_peak_rss_mb() -> float:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# --------------------------------------------------------------------------- results


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def fmt(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{value:,}"
        return str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_result(
    name: str,
    title: str,
    *,
    figures: dict[str, Any],
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    notes: Sequence[str] = (),
    quick: bool = False,
    tables: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Any]]]] = (),
) -> dict[str, Any]:
    """Write ``bench/results/<name>.json`` and ``<name>.md``; print the table (and ``tables``: further (title,
    headers, rows) after it). Returns the JSON payload."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    info = machine_info()
    payload = {
        "benchmark": name,
        "title": title,
        "quick": quick,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": info,
        "figures": figures,
        "table": {"headers": list(headers), "rows": [list(r) for r in rows]},
        **(
            {"tables": [{"title": t, "headers": list(h), "rows": [list(r) for r in rs]} for t, h, rs in tables]}
            if tables
            else {}
        ),
        "notes": list(notes),
    }
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
    md = [f"### {title}{' (quick mode)' if quick else ''}", "", markdown_table(headers, rows), ""]
    for table_title, table_headers, table_rows in tables:
        md += [f"#### {table_title}", "", markdown_table(table_headers, table_rows), ""]
    md += [f"- {note}" for note in notes]
    md.append(f"- machine: {machine_line(info)}")
    text = "\n".join(md) + "\n"
    (RESULTS_DIR / f"{name}.md").write_text(text)
    print(text, flush=True)
    return payload


def print_machine() -> None:
    print(f"machine: {machine_line()}", flush=True)
