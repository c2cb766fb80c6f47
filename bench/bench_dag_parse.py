"""Benchmark 4 — parse time of ``dags/tenant_rag_dags.py`` with 10 and 1,000 generated customer configs.

    python -m bench.bench_dag_parse [--quick] [--repeat 3]

Each measurement runs in a fresh child process that has already imported Airflow (as the DAG processor's parsing
child has), then times ``DagBag(dag_folder=<the DAG file>)``: the file's own imports (tenant_rag, pydantic, the
operators) plus reading, validating and building every customer's DAG. Modes:

* ``all`` — what the DAG processor does: every customer's DAG (also timed: serialising them all, which the
  processor does after parsing);
* ``one (parsing context)`` — what a task process does: ``_AIRFLOW_PARSING_CONTEXT_DAG_ID`` set to one customer's
  DAG, so only that customer's folder is read;
* ``shard 1 of 8`` — a DAG file calling ``load_customer_dags(shard=(0, 8))``: the work of one of eight files the
  DAG processor can parse in parallel.

Reports the median over ``--repeat`` children; ``--quick`` measures 10 and 200 customers. Nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import ROOT, print_machine, write_result

DAG_FILE = ROOT / "dags" / "tenant_rag_dags.py"

CHILD = """
import json, sys, time
from airflow.dag_processing.dagbag import DagBag
from airflow.serialization.serialized_objects import DagSerialization
modules_before = len(sys.modules)
started = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
parsed = time.perf_counter() - started
started = time.perf_counter()
again = DagBag(dag_folder=sys.argv[1])
warm = time.perf_counter() - started
serialize = None
if sys.argv[2] == "serialize":
    started = time.perf_counter()
    for dag in bag.dags.values():
        DagSerialization.to_dict(dag)
    serialize = time.perf_counter() - started
print(json.dumps({"parse_s": parsed, "warm_parse_s": warm, "serialize_s": serialize, "dags": len(bag.dags),
                  "errors": len(bag.import_errors), "new_modules": len(sys.modules) - modules_before}))
"""


def generate_customers(folder: Path, count: int) -> None:
    """``count`` valid customers: three in four export Confluence (two spaces), the rest a Markdown folder."""
    for index in range(count):
        customer_id = f"c{index:04d}"
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


SHARD_FILE = """from airflow.sdk import get_parsing_context
from tenant_rag_airflow.dag_builder import load_customer_dags
globals().update(load_customer_dags(only_dag_id=get_parsing_context().dag_id, shard=(0, 8)))
"""


def measure(customers: Path, *, one_dag: str | None, repeat: int, dag_file: Path = DAG_FILE) -> dict[str, Any]:
    env = dict(os.environ)
    env["TENANT_RAG_CUSTOMERS_DIR"] = str(customers)
    env["PYTHONPATH"] = os.pathsep.join(str(ROOT / p) for p in ("include", "plugins", "."))
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    env.setdefault("AIRFLOW_HOME", str(customers.parent / "airflow"))
    env.pop("_AIRFLOW_PARSING_CONTEXT_DAG_ID", None)
    if one_dag:
        env["_AIRFLOW_PARSING_CONTEXT_DAG_ID"] = one_dag
    samples = []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(dag_file), "no" if one_dag else "serialize"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=1800,
        ).stdout
        samples.append(json.loads(out.strip().splitlines()[-1]))
    median = {
        key: statistics.median(s[key] for s in samples) if samples[0][key] is not None else None
        for key in ("parse_s", "warm_parse_s", "serialize_s")
    }
    return {**median, "dags": samples[0]["dags"], "errors": samples[0]["errors"], "runs": repeat}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 and 200 customers")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print_machine()
    sizes = (10, 200) if args.quick else (10, 1000)
    rows, figures = [], {}
    with tempfile.TemporaryDirectory(prefix="tenantrag-dagparse-") as tmp:
        for size in sizes:
            customers = Path(tmp) / f"n{size}" / "customers"
            generate_customers(customers, size)
            shard_file = Path(tmp) / f"n{size}" / "tenant_rag_dags_shard0.py"
            shard_file.write_text(SHARD_FILE, encoding="utf-8")
            modes = [
                ("all", None, DAG_FILE),
                ("one (parsing context)", f"tenant_rag__c{size // 2:04d}", DAG_FILE),
                ("shard 1 of 8", None, shard_file),
            ]
            for mode, one, dag_file in modes:
                result = measure(customers, one_dag=one, repeat=args.repeat, dag_file=dag_file)
                figures[f"{size}:{mode}"] = result
                per_dag = result["warm_parse_s"] / max(result["dags"], 1) * 1000
                rows.append(
                    [
                        size,
                        mode,
                        result["dags"],
                        f"{result['parse_s']:.3f}",
                        f"{result['warm_parse_s']:.3f}",
                        f"{per_dag:.2f}",
                        f"{result['serialize_s']:.3f}" if result["serialize_s"] is not None else "-",
                    ]
                )
                print(rows[-1], flush=True)
    write_result(
        "dag_parse",
        "DAG-file parse time (dags/tenant_rag_dags.py)",
        figures=figures,
        headers=[
            "customers",
            "mode",
            "DAGs built",
            "parse s (cold)",
            "re-parse s (warm)",
            "ms/DAG (warm)",
            "serialize all s",
        ],
        rows=rows,
        quick=args.quick,
        notes=[
            "cold: a fresh process with Airflow already imported (the DAG processor's parsing child); includes "
            "importing tenant_rag, pydantic and the operators; warm: the same file parsed again in that process",
            "one (parsing context): _AIRFLOW_PARSING_CONTEXT_DAG_ID set, as in a task process; only that "
            "customer's config.yaml is read",
            f"median of {args.repeat} child processes per row",
        ],
    )


if __name__ == "__main__":
    main()
