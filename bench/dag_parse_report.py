"""The table of benchmark 4 (``bench_dag_parse``): before and after side by side, with after / before ratios."""

from __future__ import annotations

from typing import Any

HEADERS = ["customers", "measure", "before", "after", "after / before"]


def _ratio(before: float | None, after: float | None) -> str:
    if before is None or after is None or before == 0:
        return "-"
    return f"{after / before:.3f}x"


def _fmt(value: float | None, unit: str = "s") -> str:
    return "-" if value is None else f"{value:,.2f} {unit}".strip()


def _proc_figures(run: dict[str, Any] | None) -> dict[str, float | None]:
    if run is None:
        return {"until_all": None, "max_file": None, "sum_files": None, "manager": None, "timeouts": None}
    durations = [r["last_duration_s"] for r in run["stats_log"].values() if r["last_duration_s"] is not None]
    recorded = [r["last_parse_duration_s"] for r in run["recorded"].values() if r["last_parse_duration_s"] is not None]
    return {
        "until_all": run["seconds_until_all_dags"],
        "max_file": max(recorded + durations, default=None),
        "sum_files": sum(durations) if durations else None,
        "manager": run["manager_cpu_s"],
        "timeouts": float(run["timeouts"]),
        "import_errors": float(len(run["import_errors"])),
        "dags": float(run["dags_serialized"]),
    }


def report(figures: dict[str, Any]) -> tuple[list[str], list[list[Any]], list[str]]:
    rows: list[list[Any]] = []
    for size in figures["sizes"]:
        cpu = figures[f"cpu:{size}"]
        before, after = cpu["before"], cpu["after"]
        label = f"{size:,}"
        rows.append([label, "DAG files building DAGs", 1, after["active_shards"], "-"])
        rows.append([label, "DAGs built (import errors)", _built(before), _built(after), "-"])
        if before["dags"] < size:  # the one file failed (Airflow's dagbag_import_timeout): no ratio to give
            failed = f"failed after {before['max_file_cpu_s']:.2f} s CPU"
            rows.append([label, "CPU, largest file (parse + serialise)", failed, _fmt(after["max_file_cpu_s"]), "-"])
            rows.append([label, "CPU per DAG", "-", _fmt(after["total_cpu_s"] / size * 1000, "ms"), "-"])
            _rows_after_cpu(rows, label, cpu)
            _processor_rows(rows, label, figures.get(f"processor:{size}"))
            continue
        rows.append(
            [
                label,
                "CPU, largest file (parse + serialise)",
                _fmt(before["max_file_cpu_s"]),
                _fmt(after["max_file_cpu_s"]),
                _ratio(before["max_file_cpu_s"], after["max_file_cpu_s"]),
            ]
        )
        rows.append(
            [
                label,
                "CPU, all files",
                _fmt(before["total_cpu_s"]),
                _fmt(after["total_cpu_s"]),
                _ratio(before["total_cpu_s"], after["total_cpu_s"]),
            ]
        )
        b_ms, a_ms = (before["total_cpu_s"] / size * 1000, after["total_cpu_s"] / size * 1000)
        rows.append([label, "CPU per DAG", _fmt(b_ms, "ms"), _fmt(a_ms, "ms"), _ratio(b_ms, a_ms)])
        b_file = before["files"]["tenant_rag_dags.py"]
        a_ser = sum(f["serialize_cpu_s"] for f in after["files"].values())
        a_parse = sum(f["parse_cpu_s"] for f in after["files"].values())
        rows.append(
            [
                label,
                "  of which parse / serialise",
                f"{b_file['parse_cpu_s']:.2f} / {b_file['serialize_cpu_s']:.2f}",
                f"{a_parse:.2f} / {a_ser:.2f}",
                _ratio(b_file["serialize_cpu_s"], a_ser) + " (serialise)",
            ]
        )
        _rows_after_cpu(rows, label, cpu)
        _processor_rows(rows, label, figures.get(f"processor:{size}"))
    return HEADERS, rows, NOTES


def _built(design: dict[str, Any]) -> str:
    errors = sum(f["errors"] for f in design["files"].values())
    return f"{design['dags']:,} ({errors})"


def _rows_after_cpu(rows: list[list[Any]], label: str, cpu: dict[str, Any]) -> None:
    after = cpu["after"]
    empty = [f for f in after["files"].values() if f["dags"] == 0]
    if empty:
        rows.append(
            [label, "CPU, a shard file above the count (builds nothing)", "-", _fmt(empty[0]["total_cpu_s"]), "-"]
        )
    task = cpu["task_process"]
    rows.append(
        [
            label,
            "task process: own shard file / another file (DAGs)",
            "-",
            f"{task['owner']['total_cpu_s']:.3f} s ({task['owner']['dags']}) / "
            f"{task['other']['total_cpu_s']:.3f} s ({task['other']['dags']})",
            "-",
        ]
    )


def _processor_rows(rows: list[list[Any]], label: str, proc: dict[str, Any] | None) -> None:
    if not proc:
        return
    for phase, title in (("first", "first parse"), ("again", "re-parse, DAGs unchanged")):
        b = _proc_figures(proc["before"].get(phase))
        a = _proc_figures(proc["after"].get(phase))
        prefix = f"dag-processor, {title}:"
        rows.append([label, f"{prefix} DAGs serialised", _n(b.get("dags")), _n(a.get("dags")), "-"])
        rows.append(
            [
                label,
                f"{prefix} longest file (recorded)",
                _fmt(b["max_file"]),
                _fmt(a["max_file"]),
                _ratio(b["max_file"], a["max_file"]),
            ]
        )
        rows.append(
            [
                label,
                f"{prefix} sum of file durations",
                _fmt(b["sum_files"]),
                _fmt(a["sum_files"]),
                _ratio(b["sum_files"], a["sum_files"]),
            ]
        )
        if phase == "first":  # (on the re-parse every DAG is in the database from the start)
            rows.append(
                [
                    label,
                    f"{prefix} until every DAG is in the DB",
                    _fmt(b["until_all"]),
                    _fmt(a["until_all"]),
                    _ratio(b["until_all"], a["until_all"]),
                ]
            )
        rows.append(
            [
                label,
                f"{prefix} manager's own CPU",
                _fmt(b["manager"]),
                _fmt(a["manager"]),
                _ratio(b["manager"], a["manager"]),
            ]
        )
        rows.append([label, f"{prefix} files timed out / import errors", _errs(b), _errs(a), "-"])


NOTES = [
    "before: the DAG builder of commit 3c0e819 (one file, Params given to DAG() so "
    "every task serialises a copy); after: the shipped shard files, Params on the DAG only",
    "CPU rows: one fresh child process per DAG file (Airflow imported), process_time of DagBag and of Airflow's "
    "_serialize_dags (DagSerialization.to_dict + its schema check), as the dag-processor's child runs them",
    "dag-processor rows: a real `airflow dag-processor`, 2 parsing processes, dag_file_processor_timeout 50 s, "
    "SQLite metadata DB; 'longest file' is what it recorded (dag.last_parse_duration / its stats table: wall "
    "time from the child's start until the manager has read its result, so it includes waiting for the manager); "
    "'re-parse' is a second processor on the same DB (DAGs unchanged)",
    "the manager persists every serialised DAG itself, one file's result at a time: its CPU does not shrink with "
    "more parsing processes",
    "Airflow's [core] dagbag_import_timeout (30 s) bounds a file's parse, [dag_processor] "
    "dag_file_processor_timeout (50 s) its whole child; a file over either builds none of its DAGs",
]


def _errs(figures: dict[str, float | None]) -> str:
    return f"{_n(figures['timeouts'])} / {_n(figures.get('import_errors'))}"


def _n(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"
