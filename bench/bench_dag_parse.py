"""Benchmark 4 — DAG parsing and serialisation, old design vs new, side by side, and the real dag-processor.

    python -m bench.bench_dag_parse [--quick] [--skip-processor]

Designs:

* **before** — the DAG builder as of ``BASELINE`` (read from git): one DAG file builds every customer's DAG, and
  the trigger form's Params are given to ``DAG()``, so every task carries (and serialises) its own copy;
* **after** — the shipped shard files (``dags/tenant_rag_dags*.py``, ``tenant_rag_airflow.dag_shards``): the shard
  count derived from the customer count, and the Params on the DAG only.

Part 1 (CPU, per file): a fresh child process per DAG file (Airflow already imported, as in the processor's child)
times ``DagBag`` on that file and then Airflow's own ``_serialize_dags`` (``DagSerialization.to_dict`` plus its
JSON-schema check, what the dag-processor's child runs before sending DAGs up). CPU seconds (``process_time``).

Part 2 (the dag-processor's own record): ``bench.dag_processor_run`` runs ``airflow dag-processor`` on the same
folders (SQLite metadata DB, 2 parsing processes, default 50 s timeout) until every DAG is serialised, then a
second processor parses everything again on that DB (the steady state: DAGs unchanged); it reads
``dag.last_parse_duration`` and the processor's stats table. Sizes: 1,000 and 10,000 customers (``--quick``:
200 and 2,000). Nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import dag_processor_run
from bench.common import ROOT, print_machine, write_result

BASELINE = "3c0e8192ffea74af2158c6496ab507093f260808"  # the last commit with the one-file, Params-per-task design
PYTHONPATH = [str(ROOT / p) for p in ("include", "plugins", ".")]

CHILD = """
import json, sys, time, structlog
from airflow.dag_processing.dagbag import DagBag
from airflow.dag_processing.processor import _serialize_dags
started = time.process_time()
bag = DagBag(dag_folder=sys.argv[1])
parsed = time.process_time() - started
started = time.process_time()
serialized, errors = _serialize_dags(bag, structlog.get_logger())
serialize = time.process_time() - started
print(json.dumps({"parse_cpu_s": parsed, "serialize_cpu_s": serialize, "dags": len(serialized),
                  "errors": len(bag.import_errors) + len(errors)}))
"""

BEFORE_DAG_FILE = """from airflow.sdk import get_parsing_context
from tenant_rag_dag_builder_before import load_customer_dags
globals().update(load_customer_dags(only_dag_id=get_parsing_context().dag_id))
"""


def generate_customers(folder: Path, count: int) -> None:
    """``count`` valid customers: three in four export Confluence (two spaces), the rest a Markdown folder."""
    for index in range(count):
        customer_id = f"c{index:05d}"
        customer = folder / customer_id
        customer.mkdir(parents=True)
        if index % 4:
            export = (
                f"export:\n  source: confluence\n  base_url: https://tenant-{index}.atlassian.net/wiki\n"
                "  space_keys: [ENG, OPS]\n"
            )
        else:
            export = "export:\n  source: directory\n  path: docs\n"
        (customer / "config.yaml").write_text(
            f"customer_id: {customer_id}\ndisplay_name: Customer {index}\nowner: team-{index % 7}\n"
            f"tags: [tier-{index % 3}]\nschedule: '{index % 60} {index % 24} * * *'\n{export}"
            f"rag:\n  chunk_size: 1000\n  top_k: 4\n",
            encoding="utf-8",
        )


def prepare_designs(tmp: Path) -> dict[str, tuple[Path, list[str]]]:
    """{design: (DAG folder, extra PYTHONPATH)}; 'before' is BASELINE's builder under another module name."""
    before_lib, before_dags, after_dags = tmp / "before-lib", tmp / "before-dags", tmp / "after-dags"
    for folder in (before_lib, before_dags, after_dags):
        folder.mkdir()
    old = subprocess.run(
        ["git", "show", f"{BASELINE}:plugins/tenant_rag_airflow/dag_builder.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (before_lib / "tenant_rag_dag_builder_before.py").write_text(old, encoding="utf-8")
    (before_dags / "tenant_rag_dags.py").write_text(BEFORE_DAG_FILE, encoding="utf-8")
    for path in sorted((ROOT / "dags").glob("tenant_rag_dags*.py")):
        shutil.copy(path, after_dags / path.name)
    return {"before": (before_dags, [str(before_lib)]), "after": (after_dags, [])}


def child_env(customers: Path, extra_path: list[str], one_dag: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        TENANT_RAG_CUSTOMERS_DIR=str(customers),
        PYTHONPATH=os.pathsep.join([*extra_path, *PYTHONPATH]),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW_HOME=str(customers.parent / "airflow-cpu"),
    )
    env.pop("_AIRFLOW_PARSING_CONTEXT_DAG_ID", None)
    if one_dag:
        env["_AIRFLOW_PARSING_CONTEXT_DAG_ID"] = one_dag
    return env


def measure_file(dag_file: Path, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(dag_file)], check=False, env=env, capture_output=True, text=True, timeout=1800
    )
    if done.returncode != 0:
        raise RuntimeError(f"measuring {dag_file} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["total_cpu_s"] = result["parse_cpu_s"] + result["serialize_cpu_s"]
    return result


def cpu_part(size: int, customers: Path, designs: dict[str, tuple[Path, list[str]]]) -> dict[str, Any]:
    """Per-file CPU of both designs at ``size`` customers; 'after' measures every file that builds DAGs."""
    from tenant_rag_airflow.dag_shards import customer_folders, shard_count, shard_file_name, shard_of

    out: dict[str, Any] = {}
    before_dags, before_path = designs["before"]
    out["before"] = {
        "files": {
            "tenant_rag_dags.py": measure_file(before_dags / "tenant_rag_dags.py", child_env(customers, before_path))
        }
    }
    after_dags, _ = designs["after"]
    folders = customer_folders(customers)
    count = shard_count(len(folders))
    files = {}
    for index in [*range(count), count]:  # every active shard and one file above the count (builds nothing)
        name = shard_file_name(index)
        files[name] = measure_file(after_dags / name, child_env(customers, []))
        print(f"  {size} after {name}: {files[name]}", flush=True)
    out["after"] = {"files": files, "active_shards": count}
    # a task process: the parsing context names one DAG; its own shard file builds it, the others nothing
    one = folders[len(folders) // 2]
    owner = shard_file_name(shard_of(one, count))
    other = shard_file_name((shard_of(one, count) + 1) % (count + 1))
    env = child_env(customers, [], one_dag=f"tenant_rag__{one}")
    out["task_process"] = {
        "owner": measure_file(after_dags / owner, env),
        "other": measure_file(after_dags / other, env),
    }
    for design in ("before", "after"):
        values = out[design]["files"].values()
        out[design]["total_cpu_s"] = sum(v["total_cpu_s"] for v in values)
        out[design]["max_file_cpu_s"] = max(v["total_cpu_s"] for v in values)
        out[design]["dags"] = sum(v["dags"] for v in values)
    return out


def processor_part(size: int, customers: Path, designs: dict[str, tuple[Path, list[str]]], tmp: Path) -> dict:
    out: dict[str, Any] = {}
    for design, (dags, extra) in designs.items():
        pythonpath = os.pathsep.join([*extra, *PYTHONPATH])
        home = tmp / f"proc-{design}-{size}"
        env = dag_processor_run.base_env(home, tmp / "migrated.db", dags, pythonpath, customers)
        if not (tmp / "migrated.db").exists():
            dag_processor_run.migrate(home, tmp / "migrated.db", env)
        files = len(list(dags.glob("*.py")))
        common = {"env": env, "expected_dags": size, "files": files, "processes": 2, "timeout_s": 50}
        first = dag_processor_run.run(migrated_db=tmp / "migrated.db", workdir=home / "first", budget_s=420, **common)
        print(f"  {size} {design} processor, first parse: {_short(first)}", flush=True)
        runs = {"first": first}
        if first["dags_serialized"] >= size:  # the steady state: every DAG already in the database, unchanged
            again = dag_processor_run.run(
                migrated_db=home / "first" / "airflow.db", workdir=home / "again", budget_s=420, **common
            )
            print(f"  {size} {design} processor, re-parse: {_short(again)}", flush=True)
            runs["again"] = again
        out[design] = runs
    return out


def _short(run: dict[str, Any]) -> str:
    durations = [r["last_duration_s"] for r in run["stats_log"].values() if r["last_duration_s"] is not None]
    return (
        f"{run['dags_serialized']}/{run['expected_dags']} DAGs in {run['seconds_until_all_dags']} s, max file "
        f"{max(durations, default=0):.2f} s, sum {sum(durations):.1f} s, manager CPU {run['manager_cpu_s']:.1f} s, "
        f"timeouts {run['timeouts']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 and 2,000 customers")
    parser.add_argument("--skip-processor", action="store_true", help="only the CPU part")
    args = parser.parse_args()
    print_machine()
    sizes = (200, 2000) if args.quick else (1000, 10000)
    figures: dict[str, Any] = {"baseline_commit": BASELINE, "sizes": list(sizes)}
    with tempfile.TemporaryDirectory(prefix="tenantrag-dagparse-") as name:
        tmp = Path(name)
        designs = prepare_designs(tmp)
        for size in sizes:
            customers = tmp / f"n{size}" / "customers"
            generate_customers(customers, size)
            figures[f"cpu:{size}"] = cpu_part(size, customers, designs)
            if not args.skip_processor:
                figures[f"processor:{size}"] = processor_part(size, customers, designs, tmp)
    from bench.dag_parse_report import report

    headers, rows, notes = report(figures)
    write_result(
        "dag_parse",
        "DAG parsing + serialisation: one file, Params per task (before) vs shards, Params on the DAG (after)",
        figures=figures,
        headers=headers,
        rows=rows,
        quick=args.quick,
        notes=notes,
    )


if __name__ == "__main__":
    main()
