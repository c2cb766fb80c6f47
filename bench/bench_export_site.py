"""Export of a real-shaped Confluence site, with and without 20% injected faults, side by side.

    python -m bench.bench_export_site [--pages 500] [--quick]

The site is the one of issue 14's done-when test (``tenant_rag_devtools.confluence_server.sample_site``): 500 pages
(5% restricted, three Cloud folders), 32 files of every readable type (PDF, DOCX, PPTX, XLSX, CSV, TXT, MD,
draw.io; padded with 200 lines of text each so that there are bytes to measure), footer comments, Europe/Berlin.
Two identical sites are served, one clean and one answering 20% of requests with a fault (429 + Retry-After, 500,
a slow answer that outlasts the client's timeout, a dropped connection); each step runs on both, one after the
other: a full export, a repeat run with nothing changed, an incremental run after two edits (one outside the
window), and a run after every file was uploaded again (it downloads only files: attachment MB/s).

Requests are the client's (``http_requests``, retries included) and the server's answers by kind (page bodies,
downloads); pages/s is pages written (or fetched) per second of the run; nothing is indexed here.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.common import print_machine, write_result
from tenant_rag.config import parse_customer_config
from tenant_rag.export import ConfluenceCredentials, RetryPolicy, export_customer
from tenant_rag_devtools.confluence_server import FakeConfluence
from tenant_rag_devtools.confluence_server.sample_site import BUILT_AT, SampleSite, build_site, file_data, page_storage

AUTH = ("bench@example.com", "bench")
POLICY = RetryPolicy(timeout_seconds=0.3, max_retries=10, backoff_base=0.005, backoff_max=0.05)
WINDOW = (BUILT_AT + timedelta(days=10), BUILT_AT + timedelta(days=10, hours=2))
FILE_LINES = 200
VARIANTS = {"clean": 0.0, "20% faults": 0.2}


def _site(pages: int, rate: float) -> tuple[FakeConfluence, SampleSite]:
    fake = FakeConfluence(flavor="cloud", auth=AUTH, site_timezone="Europe/Berlin", seed=14)
    built = build_site(fake, pages, file_lines=FILE_LINES)
    fake.set_faults(rate=rate, retry_after=0.01, slow_seconds=0.4)
    return fake, built


def _reupload(fake: FakeConfluence, built: SampleSite) -> int:
    """Every file uploaded again (a new version, the same bytes): the next run downloads each once."""
    total = 0
    for file_id, (page_id, name, token) in built.file_tokens.items():
        data = file_data(name.rsplit(".", 1)[1], token, FILE_LINES)
        fake.attach(page_id, name, data, fake.site.attachments[file_id].media_type)
        total += len(data)
    return total


def _edit(fake: FakeConfluence, built: SampleSite) -> None:
    readable = sorted(built.readable_pages, key=lambda p: (len(p), p))
    outside, inside = readable[len(readable) // 5], readable[2 * len(readable) // 5]
    fake.update_page(outside, storage=page_storage(1, "pgtkedit1"), modified_at=BUILT_AT + timedelta(days=2))
    fake.update_page(inside, storage=page_storage(2, "pgtkedit2"), modified_at=WINDOW[1] - timedelta(minutes=30))


def _row(step: str, variant: str, stats: dict[str, Any], fake: FakeConfluence, file_mb: float) -> dict[str, Any]:
    traffic, seconds = fake.traffic, float(stats["duration_s"])
    pages = int(stats["pages_written"] if step == "full" else stats["pages_fetched"])
    downloaded = int(stats["attachments_downloaded"])
    return {
        "step": step,
        "variant": variant,
        "seconds": seconds,
        "requests": int(stats["http_requests"]),
        "retries": int(stats["retries"]),
        "faults": traffic.count() - sum(traffic.count(kind, "200") for kind in traffic.by_kind()),
        "page_bodies": traffic.count("page", "200"),
        "downloads": traffic.count("download", "200"),
        "children": traffic.count("children", "200"),
        "pages": pages,
        "pages_per_s": round(pages / seconds, 1) if seconds else 0.0,
        "files": downloaded,
        "file_mb": round(file_mb, 3) if downloaded else 0.0,
        "file_mb_per_s": round(file_mb / seconds, 3) if step.startswith("files") and seconds else "",
        "unreadable": int(stats["unreadable_total"]),
        "errors": int(stats["errors_total"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="100 pages")
    args = parser.parse_args()
    pages = 100 if args.quick else args.pages
    print_machine()
    sites = {variant: _site(pages, rate) for variant, rate in VARIANTS.items()}
    credentials = ConfluenceCredentials(*AUTH)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        served = {variant: fake.serve() for variant, (fake, _) in sites.items()}
        urls = {variant: context.__enter__() for variant, context in served.items()}
        try:
            configs = {
                variant: parse_customer_config(
                    {
                        "customer_id": "benchsite",
                        "display_name": "Bench site",
                        "export": {
                            "source": "confluence",
                            "base_url": url,
                            "space_keys": ["OPS"],
                            "include_comments": True,
                        },
                    },
                    customer_id="benchsite",
                    path="bench",
                )
                for variant, url in urls.items()
            }
            file_mb = {variant: built.file_bytes / 1e6 for variant, (_, built) in sites.items()}
            steps = [("full", None), ("repeat, unchanged", None), ("incremental, 2 edits", WINDOW)]
            steps.append(("files uploaded again", None))
            for step, window in steps:
                for variant, (fake, built) in sites.items():  # side by side: each step on both sites in turn
                    if step.startswith("incremental"):
                        _edit(fake, built)
                    if step.startswith("files"):
                        file_mb[variant] = _reupload(fake, built) / 1e6
                    fake.traffic.clear()
                    stats = export_customer(
                        configs[variant],
                        Path(tmp) / variant.replace(" ", "_").replace("%", "pct"),
                        credentials=credentials,
                        retry_policy=POLICY,
                        window=window,
                        workers=args.workers,
                    )
                    rows.append(_row(step, variant, stats, fake, file_mb[variant]))
                    print(rows[-1], flush=True)
        finally:
            for context in served.values():
                context.__exit__(None, None, None)
    built = sites["clean"][1]
    headers = [
        "step",
        "site",
        "s",
        "requests",
        "retries",
        "faults answered",
        "page bodies",
        "downloads",
        "pages",
        "pages/s",
        "files",
        "file MB",
        "file MB/s",
        "unreadable",
        "errors",
    ]
    keys = ["step", "variant", "seconds", "requests", "retries", "faults", "page_bodies", "downloads", "pages"]
    keys += ["pages_per_s", "files", "file_mb", "file_mb_per_s", "unreadable", "errors"]
    full = {row["variant"]: row for row in rows if row["step"] == "full"}
    write_result(
        "export_site",
        f"Confluence export of a {pages}-page site, clean and with 20% faults, side by side",
        figures={"pages": pages, "workers": args.workers, "files": len(built.file_tokens), "runs": rows},
        headers=headers,
        rows=[[row[k] for k in keys] for row in rows],
        notes=[
            f"site: {pages} pages ({len(built.restricted)} restricted, answering 403), 3 folders, "
            f"{len(built.file_tokens)} files of 8 types ({built.file_bytes / 1e6:.2f} MB), "
            f"{len(built.comment_tokens)} footer comments (export.include_comments), Europe/Berlin; "
            f"{args.workers} fetch workers, page_size 50",
            "faults: 20% of requests answer 429 (Retry-After 0.01 s), 500, a 0.4 s stall (the client times out at "
            "0.3 s) or a dropped connection, equally often; retries back off 5-50 ms",
            f"full export with faults / clean: x{full['20% faults']['seconds'] / full['clean']['seconds']:.2f} "
            f"time, x{full['20% faults']['requests'] / full['clean']['requests']:.2f} requests",
            "page bodies and downloads are counted by the server (successful answers; with faults a few more than "
            "pages/files, when a stalled answer outlasted the client's timeout and was asked again); 'faults "
            "answered' are the other answers (injected faults and the 403s of restricted pages); requests are the "
            "client's, retries included",
            f"with include_comments every fetched page is asked for its footer comments: "
            f"{full['clean']['children']} of the clean full run's {full['clean']['requests']} requests, although "
            f"only {len(built.comment_tokens)} pages have comments (the CQL comment listing already says which)",
            "file MB/s: the run after every file was uploaded again downloads only files (pages unchanged), so its "
            "MB over its whole duration (listings, download and text extraction included) is the attachment "
            "throughput",
        ],
        quick=args.quick,
    )


if __name__ == "__main__":
    main()
