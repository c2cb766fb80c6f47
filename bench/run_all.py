"""Run every benchmark, side by side, and publish ``bench/results/RESULTS.md`` (``make bench``).

    python -m bench.run_all [--quick] [--only upsert,query]

Each benchmark runs in a child process of its own (clean memory, its own peak RSS), in the issue's order; one that
fails is reported and the others still run (exit status 1 at the end). Every benchmark writes
``bench/results/<name>.json`` and ``<name>.md``; this script prints the machine, stitches the Markdown tables into
RESULTS.md and draws PNG plots (matplotlib, a bench-only package like langchain-postgres).

Sizes: the full run uses the issue's sizes (the query benchmark grows the other customers without rebuilding
their HNSW indexes; see bench_query); ``--quick`` scales the big ones down (upsert 20k rows, query 100 x 2,000
chunks, the smallest corpus for the incremental and end-to-end runs), and each result says so.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import BENCH_EXTRA, RESULTS_DIR, ROOT, add_bench_extra_to_path, machine_line, print_machine

# (module, result name, what it measures), in the order
BENCHMARKS: tuple[tuple[str, str, str], ...] = (
    ("bench_upsert", "upsert", "1. upsert vs langchain-postgres vs bare COPY"),
    ("bench_incremental", "incremental", "2. incremental re-index"),
    ("bench_query", "query", "3. per-customer query latency, recall, noisy neighbours"),
    ("bench_dag_parse", "dag_parse", "4. DAG parsing + serialisation, old vs new, and the dag-processor"),
    (
        "bench_dag_shard_growth",
        "dag_shard_growth",
        "4b. DAG shard files past the shipped 32 (50,000 and 100,000 customers)",
    ),
    ("bench_e2e", "e2e", "5. end to end through Airflow"),
    ("bench_gemini", "gemini", "6. embedding paths: Gemini calls and 429s, offline overhead"),
    ("bench_embedder", "embedder", "6b. chunking and embedder throughput"),
    ("bench_core", "core", "RAG core"),
    ("bench_retrieval_quality", "retrieval_quality", "retrieval quality by mode"),
    ("bench_retrieval_dev", "retrieval_dev", "retrieval on the dev benchmark (175 questions) vs plain BM25"),
    ("bench_export", "export", "Confluence export"),
    ("bench_export_site", "export_site", "Confluence export of a real-shaped site, clean and with 20% faults"),
    ("bench_api_load", "api_load", "query API under load"),
    ("bench_metrics", "metrics", "/metrics at 10,000 customers, before and after"),
    ("bench_permissions", "permissions", "query latency with the permission filter vs without, recall, k rows"),
)


def ensure_bench_extra() -> None:
    """Install the bench-only packages (bench/requirements-bench.txt) into .run/bench-extra when missing."""
    import importlib.util
    import shutil

    add_bench_extra_to_path()
    if all(importlib.util.find_spec(name) is not None for name in ("langchain_postgres", "matplotlib")):
        return
    uv = shutil.which("uv") or str(ROOT / ".run" / "bootstrap" / "bin" / "uv")
    cmd = [uv, "pip", "install", "--python", sys.executable, "--target", str(BENCH_EXTRA), "--no-deps"]
    cmd += ["-r", str(ROOT / "bench" / "requirements-bench.txt")]
    print(f"installing the bench-only packages: {' '.join(cmd)}", flush=True)
    try:
        subprocess.run(cmd, check=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"could not install them ({exc}); langchain-postgres and the plots will be skipped", flush=True)


def _supports_quick(path: Path) -> bool:
    return "--quick" in path.read_text()


def run_one(module: str, quick: bool, log_dir: Path) -> dict[str, Any]:
    path = ROOT / "bench" / f"{module}.py"
    if not path.exists():
        return {"module": module, "status": "missing", "seconds": 0.0}
    cmd = [sys.executable, "-m", f"bench.{module}"]
    if quick and _supports_quick(path):
        cmd.append("--quick")
    print(f"\n=== {module}: {' '.join(cmd[1:])}", flush=True)
    started = time.perf_counter()
    log = log_dir / f"{module}.log"
    with log.open("w") as handle:
        process = subprocess.run(cmd, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, check=False, timeout=7200)
    seconds = time.perf_counter() - started
    tail = log.read_text(errors="replace").splitlines()[-15:]
    status = "ok" if process.returncode == 0 else f"failed (exit {process.returncode})"
    print("\n".join(tail), flush=True)
    print(f"=== {module}: {status} in {seconds:.0f}s (log: {log.relative_to(ROOT)})", flush=True)
    return {"module": module, "status": status, "seconds": round(seconds, 1), "log": str(log.relative_to(ROOT))}


def _as_committed(name: str, module: str) -> dict[str, Any]:
    """A result file not re-run now: the date of the commit that last changed it (the files carry no date)."""
    md = RESULTS_DIR / f"{name}.md"
    if not md.exists():
        return {"module": module, "status": "no result file", "seconds": "-"}
    found = subprocess.run(
        ["git", "log", "-1", "--format=%cd", "--date=format:%Y-%m-%d %H:%M", "--", str(md)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {"module": module, "status": f"from its file, committed {found or 'never'}", "seconds": "-"}


def write_summary(outcomes: list[dict[str, Any]], quick: bool, stitched: bool = False) -> Path:
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    header = (
        f"Stitched by `python -m bench.run_all --stitch` at {now} from the result files as committed (nothing was "
        "run): each benchmark ran on its own date, on the machine its section names."
        if stitched
        else f"Machine: {machine_line()}. Mode: {'quick' if quick else 'full'}. "
        f"Generated by `python -m bench.run_all{' --quick' if quick else ''}` at {now}."
    )
    parts = [
        "# Benchmark results",
        "",
        header,
        "",
        "| benchmark | status | seconds |",
        "| --- | --- | --- |",
    ]
    parts += [f"| {o['module']} | {o['status']} | {o['seconds']} |" for o in outcomes]
    parts.append("")
    known = {name for _, name, _ in BENCHMARKS}
    for _, name, _ in BENCHMARKS:
        md = RESULTS_DIR / f"{name}.md"
        if md.exists():
            parts += [md.read_text().rstrip(), ""]
    for md in sorted(RESULTS_DIR.glob("*.md")):
        if md.stem not in known and md.name != "RESULTS.md":
            parts += [md.read_text().rstrip(), ""]
    target = RESULTS_DIR / "RESULTS.md"
    target.write_text("\n".join(parts) + "\n")
    return target


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def draw_plots() -> list[Path]:
    """PNG plots from the JSON results (matplotlib from .run/bench-extra; skipped with a message when missing)."""
    add_bench_extra_to_path()
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (bench/requirements-bench.txt): plots skipped", flush=True)
        return []
    written: list[Path] = []

    def save(fig: Any, name: str, result: dict[str, Any]) -> None:
        fig.text(0.01, 0.01, machine_line(result.get("machine")), fontsize=6, color="grey")
        fig.tight_layout(rect=(0, 0.04, 1, 1))
        fig.savefig(RESULTS_DIR / f"{name}.png", dpi=110)
        plt.close(fig)
        written.append(RESULTS_DIR / f"{name}.png")

    upsert = _load("upsert")
    if upsert:
        writers = upsert["figures"].get("writers", 2)
        labels = {
            "bare_copy": "(c) bare binary COPY",
            "langchain": "(b) langchain-postgres",
            "ours": f"(a) ours, {writers} writers",
            "ours_1w": "(a1) ours, 1 writer",
            "ours_hnsw": "(a') ours + index builds",
            "ours_simple": "(a2) ours, text_search_config simple",
        }
        figures = upsert["figures"]
        rates = {labels.get(k, k): v for k, v in figures["rows_per_s"].items()}
        if "analysis_s" in figures:  # the chunk stage's text analysis added to the upsert (row a+ of the table)
            rates["(a+) ours + the chunk stage's analysis"] = figures["rows"] / (
                figures["seconds"]["ours"] + figures["analysis_s"]
            )
        fig, ax = plt.subplots(figsize=(7, 3))
        ax.barh(list(rates), list(rates.values()), color="#3b6ea5")
        for y, value in enumerate(rates.values()):
            ax.text(value, y, f" {value:,.0f}", va="center", fontsize=8)
        ax.set_xlabel("rows/s (higher is better)")
        ax.set_title(f"Benchmark 1: upsert of {upsert['figures']['rows']:,} x {upsert['figures']['dim']} vectors")
        save(fig, "upsert", upsert)
    query = _load("query")
    if query and "latencies_ms" in query["figures"]["before"]:
        figures = query["figures"]
        fig, ax = plt.subplots(figsize=(7, 3.5))
        curves = [("others at 1x, before the growth", figures["before"])]
        curves += [("others at 1x, side by side", figures["control"])] if "control" in figures else []
        curves += [(f"others at {figures['grow_factor']}x, side by side", figures["after"])]
        for label, result in curves:
            values = sorted(result["latencies_ms"])
            ax.plot(values, [(i + 1) / len(values) for i in range(len(values))], label=label)
        ax.axvline(figures["before"]["floor"]["p50_ms"], color="grey", linestyle=":", label="numpy exact floor p50")
        ax.set_xlabel("customer A, top-10 query latency (ms)")
        ax.set_ylabel("share of queries")
        ax.set_title(f"Benchmark 3: {figures['customers']} customers x {figures['chunks_per_customer']:,} chunks")
        ax.legend(fontsize=8)
        save(fig, "query", query)
    e2e = _load("e2e")
    if e2e:
        runs = e2e["figures"]["runs"]
        stages = ["export", "detect_changes", "chunk", "embed", "upsert", "record_state"]
        fig, ax = plt.subplots(figsize=(7, 3.5))
        width = 0.8 / max(1, len(runs))
        for n, run in enumerate(runs):
            by_task = run["peak_rss_by_task_mb"]
            peaks = [max((v for k, v in by_task.items() if k.split("[")[0] == s), default=0) for s in stages]
            ax.bar([x + n * width for x in range(len(stages))], peaks, width, label=run["label"])
        ax.set_xticks([x + width * (len(runs) - 1) / 2 for x in range(len(stages))], stages, fontsize=8)
        ax.set_ylabel("peak RSS (MB)")
        ax.set_title("Benchmark 5: peak memory per task through dag.test()")
        ax.legend(fontsize=7)
        save(fig, "e2e", e2e)
    incremental = _load("incremental")
    if incremental:
        corpora = incremental["figures"]["corpora"]
        fig, ax = plt.subplots(figsize=(7, 3.5))
        kinds = [("full build", "full_s"), ("unchanged re-run", "unchanged_s"), ("1% edited", "edit_s")]
        width = 0.8 / len(kinds)
        for n, (label, key) in enumerate(kinds):
            ax.bar([x + n * width for x in range(len(corpora))], [c[key] for c in corpora], width, label=label)
        ax.set_yscale("log")
        ax.set_xticks([x + width for x in range(len(corpora))], [c["corpus"] for c in corpora], fontsize=8)
        ax.set_ylabel("seconds (log scale)")
        ax.set_title("Benchmark 2: incremental re-index")
        ax.legend(fontsize=8)
        save(fig, "incremental", incremental)
    for path in written:
        print(f"plot: {path.relative_to(ROOT)}", flush=True)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes for the big benchmarks")
    parser.add_argument("--only", help="comma-separated result names, e.g. upsert,query")
    parser.add_argument("--plots", action="store_true", help="only redraw the plots from the JSON results")
    parser.add_argument(
        "--stitch", action="store_true", help="run nothing: rewrite RESULTS.md from the result files as they are"
    )
    args = parser.parse_args(argv)
    if args.plots:
        draw_plots()
        return 0
    if args.stitch:
        summary = write_summary(
            [_as_committed(name, module) for module, name, _ in BENCHMARKS], quick=False, stitched=True
        )
        print(f"results: {summary.relative_to(ROOT)}", flush=True)
        return 0
    print_machine()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    log_dir = ROOT / ".run" / "bench-logs"  # full logs stay out of the repository
    log_dir.mkdir(parents=True, exist_ok=True)
    wanted = set(args.only.split(",")) if args.only else None
    ensure_bench_extra()
    outcomes = [
        run_one(module, args.quick, log_dir) for module, name, _ in BENCHMARKS if wanted is None or name in wanted
    ]
    summary = write_summary(outcomes, args.quick)
    draw_plots()
    print(f"\nmachine: {machine_line()}\nresults: {summary.relative_to(ROOT)}", flush=True)
    for outcome in outcomes:
        print(f"  {outcome['module']}: {outcome['status']} ({outcome['seconds']}s)", flush=True)
    return 1 if any(o["status"].startswith("failed") for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
