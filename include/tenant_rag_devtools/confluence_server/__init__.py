"""A local Confluence-compatible HTTP server for tests and the demo (REST v2 + v1, CQL, pagination, faults).

``FakeConfluence`` holds an in-memory site and serves it on 127.0.0.1; ``demo_site()`` is the demo's two sample
customers. Run one by hand with ``python -m tenant_rag_devtools.confluence_server --site demo --port 8090``.
"""

from __future__ import annotations

from tenant_rag_devtools.confluence_server.faults import FAULT_KINDS
from tenant_rag_devtools.confluence_server.server import FakeConfluence


def demo_site() -> FakeConfluence:
    """Both demo customers' spaces (see ``samples``), Cloud flavour, auth ``demo@example.com`` / ``demo-token``."""
    from tenant_rag_devtools.confluence_server.samples import populate_demo

    fake = FakeConfluence(flavor="cloud", auth=("demo@example.com", "demo-token"))
    populate_demo(fake)
    return fake


__all__ = ["FAULT_KINDS", "FakeConfluence", "demo_site"]
