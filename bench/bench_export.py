"""Export throughput from the local Confluence server: pages/s of a full export of ~500 generated pages.

Run: ``PYTHONPATH=include .venv/bin/python -m bench.bench_export [--pages 500] [--flavor cloud] [--workers 4]``.
Prints the figures of a full export, an unchanged re-run and an incremental run after 5% of pages changed.
Pages are realistic in size (~4 KB of storage: headings, a table, a code macro, a panel, a task list, links).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tenant_rag.config import parse_customer_config
from tenant_rag.export import ConfluenceCredentials, export_customer
from tenant_rag_devtools.confluence_server import FakeConfluence
from tenant_rag_devtools.confluence_server.sample_storage import code, page_link, panel, table, tasks


def page_body(number: int) -> str:
    rows = [[f"item-{number}-{row}", str(row * number % 97), "ok" if row % 3 else "check"] for row in range(8)]
    return (
        f"<h1>Component {number}</h1><p>This page documents component {number}, its owners and its limits. "
        + "It is generated filler with enough structure to exercise the converter. " * 6
        + "</p><h2>Settings</h2>"
        + table(["Key", "Value", "State"], *rows)
        + code("yaml", "\n".join(f"setting_{i}: {i * number}" for i in range(15)))
        + panel("info", f"<p>See also {page_link(f'Component {max(0, number - 1)}')}.</p>")
        + tasks((True, "documented"), (False, "reviewed"))
    )


def build(pages: int, flavor: str) -> tuple[FakeConfluence, list[str]]:
    fake = FakeConfluence(flavor=flavor, auth=("bench@example.com", "bench"), bearer="bench-pat")  # type: ignore[arg-type]
    fake.add_space("BENCH", "Benchmark")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ids: list[str] = []
    for number in range(pages):
        parent = ids[number // 10] if number >= 10 else None
        ids.append(
            fake.add_page(
                "BENCH",
                f"Component {number}",
                page_body(number),
                parent_id=parent,
                modified_at=start + timedelta(minutes=number),
            )
        )
    return fake, ids


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--flavor", choices=["cloud", "server"], default="cloud")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    fake, ids = build(args.pages, args.flavor)
    credentials = (
        ConfluenceCredentials("bench@example.com", "bench")
        if args.flavor == "cloud"
        else ConfluenceCredentials(bearer_token="bench-pat")
    )
    with fake.serve() as url, tempfile.TemporaryDirectory() as tmp:
        config = parse_customer_config(
            {
                "customer_id": "bench",
                "display_name": "Bench",
                "export": {
                    "source": "confluence",
                    "flavor": args.flavor,
                    "base_url": url,
                    "space_keys": ["BENCH"],
                    "page_size": 100,
                },
            },
            customer_id="bench",
            path="bench",
        )
        full = export_customer(config, Path(tmp), credentials=credentials, workers=args.workers)
        rerun = export_customer(config, Path(tmp), credentials=credentials, workers=args.workers)
        changed_at = datetime(2026, 6, 1, 12, tzinfo=UTC)
        for page_id in ids[::20]:
            fake.update_page(page_id, storage=page_body(999), modified_at=changed_at)
        window = (changed_at - timedelta(hours=1), changed_at + timedelta(hours=1))
        incremental = export_customer(config, Path(tmp), credentials=credentials, window=window, workers=args.workers)
    result = {
        "pages": args.pages,
        "flavor": args.flavor,
        "workers": args.workers,
        "full_pages_per_s": round(full["pages_written"] / full["duration_s"], 1),
        "full": {k: full[k] for k in ("pages_written", "http_requests", "duration_s")},
        "unchanged_rerun": {k: rerun[k] for k in ("pages_fetched", "http_requests", "duration_s")},
        "incremental_5pct": {k: incremental[k] for k in ("pages_fetched", "http_requests", "duration_s")},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
