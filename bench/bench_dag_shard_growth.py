"""Benchmark 4b: DAG shard files past the 32 shipped ones (beyond 16,000 customers).

Generates N valid customer folders (benchmark 4's generator), lets the project's DAG bundle logic
(``dag_shards.write_shard_files``, what ``CustomerShardsDagBundle.refresh`` runs) write the shard files the count
wants, and measures the CPU a DAG processor spends to parse and serialise the largest shard and shard 0, each in a
fresh child process (benchmark 4's measurement). Sizes: 50,000 and 100,000 customers (``--quick``: 20,000).
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from bench.bench_dag_parse import child_env, generate_customers, measure_file
from bench.common import print_machine, write_result
from tenant_rag_airflow.dag_shards import (
    SHIPPED_SHARD_FILES,
    active_shards,
    customer_folders,
    files_present,
    shard_file_name,
    shard_of,
    shard_size,
    write_shard_files,
)


def measure(size: int, tmp: Path) -> dict[str, Any]:
    customers, dags = tmp / f"n{size}" / "customers", tmp / f"n{size}" / "dags"
    generate_customers(customers, size)
    dags.mkdir(parents=True)
    write_shard_files(dags, size)
    count = active_shards(dags / shard_file_name(0), size)
    sizes = Counter(shard_of(name, count) for name in customer_folders(customers))
    largest = max(sizes, key=lambda index: (sizes[index], -index))
    env = child_env(customers, [])
    files = {index: measure_file(dags / shard_file_name(index), env) for index in sorted({largest, 0})}
    return {
        "customers": size,
        "shard_files": files_present(dags),
        "active_shards": count,
        "largest_shard": {"index": largest, "dags": sizes[largest], **files[largest]},
        "shard_0": {"dags": sizes[0], **files[0]},
        "smallest_shard_dags": min(sizes.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20,000 customers only")
    args = parser.parse_args()
    print_machine()
    sizes = [20_000] if args.quick else [50_000, 100_000]
    with tempfile.TemporaryDirectory() as tmp:
        figures = {str(size): measure(size, Path(tmp)) for size in sizes}
    rows = [
        [
            f"{size:,}",
            result["shard_files"],
            f"{result['largest_shard']['dags']} DAGs, {result['largest_shard']['total_cpu_s']:.2f} s",
            f"{result['shard_0']['dags']} DAGs, {result['shard_0']['total_cpu_s']:.2f} s",
        ]
        for size, result in ((int(k), v) for k, v in figures.items())
    ]
    write_result(
        "dag_shard_growth",
        "4b. DAG shard files written for the customer count: CPU to parse + serialise a shard",
        figures=figures,
        headers=["customers", "shard files (written by the bundle)", "largest shard", "shard 0"],
        rows=rows,
        notes=[
            f"{SHIPPED_SHARD_FILES} files ship in dags/; the rest are written by dag_shards.write_shard_files, what "
            "CustomerShardsDagBundle.refresh runs at each DAG-bundle refresh of the dag-processor",
            f"shard size {shard_size()} (TENANT_RAG_DAG_SHARD_SIZE); a customer's shard is a jump consistent hash",
            "CPU = parse + serialise of one file in a fresh child process (benchmark 4's measure_file); "
            "the target is <= 10 s per file at any customer count",
        ],
        quick=args.quick,
    )


if __name__ == "__main__":
    main()
