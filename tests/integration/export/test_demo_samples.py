"""The demo's two sample customers: rich content, clearly separate vocabularies, and the command-line server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tenant_rag.config import parse_customer_config
from tenant_rag.documents import iter_page_files, read_page
from tenant_rag.export import ConfluenceCredentials, export_customer
from tenant_rag_devtools.confluence_server import demo_site, samples_globex
from tenant_rag_devtools.confluence_server.samples import SAMPLE_CUSTOMERS, SAMPLE_QUESTIONS

DEMO_CREDENTIALS = ConfluenceCredentials(username="demo@example.com", api_token="demo-token")


def _export_demo(tmp_path: Path) -> dict[str, dict[str, str]]:
    """customer -> {title: Markdown body} of its export from the demo site."""
    fake = demo_site()
    bodies: dict[str, dict[str, str]] = {}
    with fake.serve() as url:
        for customer, spaces in SAMPLE_CUSTOMERS.items():
            raw = {
                "customer_id": customer,
                "display_name": customer,
                "export": {"source": "confluence", "base_url": url, "space_keys": spaces},
            }
            config = parse_customer_config(raw, customer_id=customer, path="demo")
            stats = export_customer(config, tmp_path / customer, credentials=DEMO_CREDENTIALS)
            assert stats["errors"] == []
            root = tmp_path / customer / "exports"
            bodies[customer] = {read_page(p, root).title: read_page(p, root).body for p in iter_page_files(root)}
    return bodies


def test_each_customer_has_a_rich_nested_tree(tmp_path: Path) -> None:
    bodies = _export_demo(tmp_path)
    for customer, pages in bodies.items():
        assert 8 <= len(pages) <= 12, customer
        text = "\n".join(pages.values())
        for construct in ("| --- |", "```", "> [!", "- [ ]", "](", "## "):
            assert construct in text, (customer, construct)
        nested = [p for p in iter_page_files(tmp_path / customer / "exports") if len(p.relative_to(tmp_path).parts) > 5]
        assert nested, f"{customer}: no page two levels down"


def test_vocabularies_are_distinct_and_questions_have_their_page(tmp_path: Path) -> None:
    bodies = _export_demo(tmp_path)
    acme, globex = ("\n".join(bodies[c].values()).lower() for c in ("acme", "globex"))
    for word in ("canary", "kubectl", "idempotency", "failover", "postmortem"):
        assert word in acme and word not in globex, word
    for word in ("per diem", "warranty", "onboarding", "restocking", "parental"):
        assert word in globex and word not in acme, word
    for customer, questions in SAMPLE_QUESTIONS.items():
        for _question, title in questions:
            assert title in bodies[customer]


def test_command_line_server_serves_the_demo() -> None:
    include = Path(__file__).resolve().parents[3] / "include"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(include), os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen(
        [sys.executable, "-m", "tenant_rag_devtools.confluence_server", "--site", "demo", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        url = first.split(" at ")[1].strip()
        spaces = httpx.get(f"{url}/api/v2/spaces", auth=("demo@example.com", "demo-token"), timeout=10).json()
        assert sorted(s["key"] for s in spaces["results"]) == ["ENG", "HR", "OPS", "SUPPORT"]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_globex_pay_pages_are_restricted_to_the_people_leads_with_their_subtree(tmp_path: Path) -> None:
    _export_demo(tmp_path)
    root = tmp_path / "globex" / "exports"
    readers = {doc.title: doc.readers for doc in (read_page(p, root) for p in iter_page_files(root))}
    for title in ("Salary Bands and Pay Review", "Pay Review Calendar"):  # the child inherits its parent's restriction
        found = readers[title]
        assert found is not None and found.restricted and found.known, title
        assert found.groups == (samples_globex.PAY_GROUP,) and found.users == (), title
    travel = readers["Travel and Expense Policy"]
    assert travel is not None and not travel.restricted and "confluence-users" in travel.groups
