"""Run the local Confluence server by hand.

``python -m tenant_rag_devtools.confluence_server --site demo --port 8090``
"""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Literal

from tenant_rag_devtools.confluence_server import FakeConfluence, demo_site
from tenant_rag_devtools.confluence_server.samples import SAMPLE_CUSTOMERS


def build_site(name: str, flavor: Literal["cloud", "server"], pages: int) -> FakeConfluence:
    if name == "demo":
        fake = demo_site()
        fake.flavor = flavor
        return fake
    fake = FakeConfluence(flavor=flavor, auth=("demo@example.com", "demo-token"))
    fake.add_space("GEN", "Generated")
    parent = None
    for number in range(pages):
        page = fake.add_page(
            "GEN",
            f"Generated page {number}",
            f"<h2>Page {number}</h2><p>Filler text {number}.</p>",
            parent_id=parent if number % 10 else None,
        )
        parent = page if number % 10 == 0 else parent
    return fake


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tenant_rag_devtools.confluence_server", description=__doc__)
    parser.add_argument("--site", choices=["demo", "generated"], default="demo")
    parser.add_argument("--pages", type=int, default=500, help="page count for --site generated")
    parser.add_argument("--flavor", choices=["cloud", "server"], default="cloud")
    parser.add_argument("--port", type=int, default=8090, help="0 picks a free port")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of requests that fail (0..1)")
    args = parser.parse_args(argv)
    fake = build_site(args.site, args.flavor, args.pages)
    if args.fault_rate:
        fake.set_faults(rate=args.fault_rate)
    url = fake.start(args.port)
    print(f"Confluence ({args.flavor}) serving site {args.site!r} at {url}")
    print("login: demo@example.com / demo-token (basic auth)")
    if args.site == "demo":
        for customer, spaces in SAMPLE_CUSTOMERS.items():
            print(f"  customer {customer}: spaces {', '.join(spaces)}")
    print("Ctrl-C to stop.", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
