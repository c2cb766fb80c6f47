"""Helpers for the API tests: a real uvicorn server in a thread, small built indexes, keys, and HTTP clients."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from tenant_rag.api.app import create_app
from tenant_rag.api.keys import AdminKey, CustomerKeyStore
from tenant_rag.api.settings import ApiSettings
from tenant_rag.config import CustomerConfig
from tenant_rag.customers import CustomerManager
from tenant_rag.documents import render_page
from tenant_rag.manager import CustomerRAGManager

KAFKA = {
    "k1": (
        "Kafka consumer groups",
        "## Rebalancing\n\nConsumer groups rebalance partitions when a member joins.\n\n"
        "## Offsets\n\nCommitted offsets live in the __consumer_offsets topic.",
    ),
    "k2": ("Kafka retention", "Topics keep messages for seven days by default; retention.ms changes it."),
    "k3": ("Schema registry", "The schema registry stores Avro schemas and checks compatibility on each write."),
    "k4": ("Broker sizing", "Size brokers for disk throughput first; keep partitions per broker below 4000."),
}
GARDEN = {
    "g1": (
        "Tomato seedlings",
        "## Sowing\n\nSow tomato seeds indoors six weeks before the last frost.\n\n"
        "## Hardening off\n\nPut seedlings outside for an hour a day before planting them out.",
    ),
    "g2": ("Composting", "A compost heap needs green and brown material in equal parts and regular turning."),
    "g3": ("Pruning roses", "Prune roses in late winter, just above an outward-facing bud."),
}


def write_export(folder: Path, space: str, pages: dict[str, tuple[str, str]]) -> None:
    for page_id, (title, body) in pages.items():
        path = folder / "exports" / space / f"{page_id}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "page_id": page_id,
            "title": title,
            "space_key": space,
            "version": 1,
            "url": f"https://wiki.example/{space}/{page_id}",
        }
        path.write_text(render_page(meta, f"# {title}\n\n{body}\n"), encoding="utf-8")


def make_customer(customers_dir: Path, customer_id: str, spaces: dict[str, dict[str, tuple[str, str]]]) -> Path:
    config = CustomerConfig.model_validate(
        {
            "customer_id": customer_id,
            "display_name": f"{customer_id.title()} Inc.",
            "export": {"source": "directory", "path": "exports", "space_keys": sorted(spaces)},
        }
    )
    folder = CustomerManager(customers_dir).create(config, exist_ok=True).root
    for space, pages in spaces.items():
        write_export(folder, space, pages)
    return folder


def build_index(customers_dir: Path, customer_id: str, database_url: str) -> dict[str, Any]:
    manager = CustomerManager(customers_dir)
    config = manager.load(customer_id)
    folder = manager.paths(customer_id).root
    return CustomerRAGManager(config, customer_dir=folder, database_url=database_url).build_index(folder / "exports")


@dataclass
class Keys:
    admin: str
    customers: dict[str, str] = field(default_factory=dict)


def make_keys(customers_dir: Path, admin_file: Path, customer_ids: list[str]) -> Keys:
    store = CustomerKeyStore(customers_dir)
    keys = Keys(admin=AdminKey(None, admin_file).set_new())
    for customer_id in customer_ids:
        keys.customers[customer_id] = store.create(customer_id, label="test").key
    return keys


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on an ephemeral 127.0.0.1 port in a thread; yield its base URL."""
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
    with serve_server(uvicorn.Server(config)) as base_url:
        yield base_url


@contextmanager
def serve_server(server: uvicorn.Server) -> Iterator[str]:
    """Run a configured uvicorn server on an ephemeral 127.0.0.1 port in a thread; yield its base URL."""
    sock = free_socket()
    port = sock.getsockname()[1]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def running_api(settings: ApiSettings) -> Iterator[str]:
    with serve_app(create_app(settings)) as base_url:
        yield base_url


def client(base_url: str, key: str | None = None, *, bearer: bool = False) -> httpx.Client:
    headers = {}
    if key is not None:
        headers = {"Authorization": f"Bearer {key}"} if bearer else {"X-API-Key": key}
    return httpx.Client(base_url=base_url, headers=headers, timeout=30.0)
