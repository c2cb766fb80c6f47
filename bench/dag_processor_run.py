"""Run a real ``airflow dag-processor`` over a DAG folder for a bounded time and read what it recorded.

Used by ``bench_dag_parse``. The metadata database is SQLite (migrated once, copied per run: only the processor's
manager writes to it; its parsing children send their results up a pipe). Every file is parsed once
(``min_file_process_interval`` far above the run), with ``parsing_processes`` children side by side and the
processor's own ``dag_file_processor_timeout``. Read back:

* ``dag.last_parse_duration`` per file: what the processor recorded for the file that built each DAG (3.3 stores
  its ``DagFileStat.last_duration`` there, the same figure as the ``dag_processing.last_duration`` metric);
* the processor's "DAG File Processing Stats" log table (``print_stats_interval``): last duration of *every*
  file, also those that built nothing, and timeouts;
* the time from start until every expected DAG was in ``serialized_dag``, and the CPU seconds of the manager
  itself (it writes every serialised DAG to the database) and of its finished children.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

AIRFLOW = str(Path(sys.executable).with_name("airflow"))
_ROW = re.compile(r"^\s*dags-folder\s+(\S+\.py)\s+(\d+)?\s*(\S+s)?\s+(\d+)\s+(\d+)\s+([\d.]+)s\s+(\S+)\s*$")


def base_env(home: Path, db: Path, dags: Path, pythonpath: str, customers: Path) -> dict[str, str]:
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{db}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "PYTHONPATH": pythonpath,
        "TENANT_RAG_CUSTOMERS_DIR": str(customers),
    }


def migrate(home: Path, db: Path, env: dict[str, str]) -> None:
    home.mkdir(parents=True, exist_ok=True)
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=600)


def _cpu_seconds(pid: int) -> tuple[float, float]:
    """(own, waited-for children) CPU seconds of ``pid`` from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


def _serialized(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(DISTINCT dag_id) FROM serialized_dag").fetchone()[0])


def run(
    *,
    migrated_db: Path,
    workdir: Path,
    env: dict[str, str],
    expected_dags: int,
    files: int,
    processes: int,
    timeout_s: int,
    budget_s: float,
) -> dict[str, Any]:
    """Start the processor on a copy of ``migrated_db``, wait for ``expected_dags`` (or ``budget_s``), stop it."""
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "airflow.db"
    shutil.copy(migrated_db, db)
    env = {
        **env,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{db}",
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": str(processes),
        "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": str(timeout_s),
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3600",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "3600",
        "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "2",
    }
    log_path = workdir / "dag-processor.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [AIRFLOW, "dag-processor"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    started = time.monotonic()
    all_in: float | None = None
    all_files: float | None = None
    cpu = (0.0, 0.0)
    try:
        while time.monotonic() - started < budget_s and proc.poll() is None:
            time.sleep(1.0)
            cpu = _cpu_seconds(proc.pid)
            stats = _stats_table(log_path.read_text(errors="replace"))
            done = len(stats) >= files and all(row["last_duration_s"] is not None for row in stats.values())
            if all_in is None and _serialized_safe(db) >= expected_dags:
                all_in = time.monotonic() - started
            if done:  # every file has finished (or timed out) once
                all_files = time.monotonic() - started
                time.sleep(2.5)  # one more stats table after the last file
                cpu = _cpu_seconds(proc.pid)
                break
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    text = log_path.read_text(errors="replace")
    with sqlite3.connect(db) as conn:
        recorded = conn.execute(
            "SELECT relative_fileloc, count(*), max(last_parse_duration) FROM dag GROUP BY relative_fileloc"
        ).fetchall()
        import_errors = conn.execute("SELECT filename, substr(stacktrace, 1, 300) FROM import_error").fetchall()
    return {
        "dags_serialized": _serialized(db),
        "expected_dags": expected_dags,
        "seconds_until_all_dags": all_in,
        "seconds_until_all_files": all_files,
        "manager_cpu_s": cpu[0],
        "children_cpu_s": cpu[1],
        "recorded": {name: {"dags": n, "last_parse_duration_s": d} for name, n, d in recorded},
        "stats_log": _stats_table(text),
        "timeouts": len(re.findall(r"timed out|killing it", text, flags=re.IGNORECASE)),
        "import_errors": [{"file": f, "error": e} for f, e in import_errors],
        "settings": {"parsing_processes": processes, "dag_file_processor_timeout": timeout_s},
    }


def _serialized_safe(db: Path) -> int:
    try:
        return _serialized(db)
    except sqlite3.Error:
        return 0


def _stats_table(text: str) -> dict[str, dict[str, Any]]:
    """The last "DAG File Processing Stats" table of the log: file -> dags, errors, last duration."""
    start = text.rfind("DAG File Processing Stats")
    rows: dict[str, dict[str, Any]] = {}
    if start < 0:
        return rows
    for line in text[start:].splitlines()[1:]:
        if line.startswith("====="):
            break
        parts = line.split()
        if len(parts) < 4 or parts[0] in ("Bundle", "--------") or not parts[1].endswith(".py"):
            continue
        durations = [p for p in parts[2:] if p.endswith("s") and p[:-1].replace(".", "", 1).isdigit()]
        numbers = [p for p in parts[2:] if p.isdigit()]
        rows[parts[1]] = {
            "dags": int(numbers[-2]) if len(numbers) >= 2 else None,
            "errors": int(numbers[-1]) if len(numbers) >= 2 else None,
            "last_duration_s": float(durations[-1][:-1]) if durations and "T" in parts[-1] else None,
        }
    return rows
