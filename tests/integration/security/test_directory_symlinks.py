"""A hostile tenant's directory source links to another customer's files: every link leading out of the source
folder is refused and recorded as a per-page error, the run goes on for the other pages, and nothing of the other
customer reaches the index. A link that stays inside the folder is read like any file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tenant_rag.pipeline.run import run_update
from tests.integration.rag.rag_core_support import (
    KAFKA_PAGES,
    make_config,
    make_customer,
    offline_embedder,
    rag_pools,  # noqa: F401 - fixture
    table_rows,
    write_page,
    write_pages,
)

pytestmark = pytest.mark.usefixtures("rag_pools")

VICTIM_SECRET = "globex-prod-key-7f3a9c"
VICTIM_TEXT = "Globex salary bands are confidential"


@pytest.fixture
def victim(customers_dir: Path) -> Path:
    """Another customer's folder next to the attacker's: an API key file and a Markdown export."""
    folder = customers_dir / "globex"
    write_page(folder / "exports", "HR", "h1", "Salaries", f"{VICTIM_TEXT}: band A, band B.")
    (folder / "api_keys.json").write_text(json.dumps({"gemini": VICTIM_SECRET}), encoding="utf-8")
    return folder


@pytest.fixture
def attacker(customers_dir: Path, victim: Path) -> tuple[Any, Path]:
    config = make_config("acme", chunk_size=300, chunk_overlap=0)
    root = make_customer(customers_dir, config)
    exports = root / "exports"
    write_pages(exports, "ENG", KAFKA_PAGES)
    return config, root


def _index_text(pg_url: str) -> str:
    return "\n".join(text for (text,) in table_rows(pg_url, "acme", "parents", "text"))


def _page_ids(pg_url: str) -> set[str]:
    return {page_id for (page_id,) in table_rows(pg_url, "acme", "documents", "page_id")}


def test_links_out_of_the_source_folder_are_refused_per_file(attacker: tuple[Any, Path], victim: Path, pg_url: str):
    config, root = attacker
    eng = root / "exports" / "ENG"
    (eng / "keys.md").symlink_to(victim / "api_keys.json")  # absolute link to a file
    (eng / "dotdot.md").symlink_to(Path("../../../globex/exports/HR/h1.md"))  # relative link climbing out
    (eng / "stolen").symlink_to(victim / "exports" / "HR", target_is_directory=True)  # a folder inside a space
    (root / "exports" / "HR").symlink_to(victim / "exports" / "HR", target_is_directory=True)  # a whole space
    (eng / "notes").mkdir()
    (eng / "notes" / "plain.md").write_text("# Runbook\n\nRestart the consumer after a rebalance.\n")
    (eng / "alias.md").symlink_to(Path("notes/plain.md"))  # stays inside the folder: read like any file

    stats = run_update(config, root, root / "exports", database_url=pg_url, embedder=offline_embedder())

    refused = {error["file"]: error for error in stats["errors"]}
    assert set(refused) == {"ENG/keys.md", "ENG/dotdot.md", "ENG/stolen", "HR"}
    for error in refused.values():
        assert error["kind"] == "outside_root"
        assert "outside the source folder" in error["error"] and "refused" in error["error"]
        assert str(victim) not in error["error"]  # the other customer's path is not revealed
    assert "a link to a folder" in refused["HR"]["error"]
    assert "a link to a file" in refused["ENG/keys.md"]["error"]

    assert stats["pages_added"] == len(KAFKA_PAGES) + 2  # the others went on: k1..k4, notes/plain.md, alias.md
    assert _page_ids(pg_url) == {*KAFKA_PAGES, "path:ENG/notes/plain.md", "path:ENG/alias.md"}
    text = _index_text(pg_url)
    assert VICTIM_SECRET not in text and VICTIM_TEXT not in text
    assert "Restart the consumer" in text
    assert VICTIM_SECRET not in json.dumps(stats)


def test_a_page_replaced_by_a_link_out_is_dropped_from_the_index(
    attacker: tuple[Any, Path], victim: Path, pg_url: str
) -> None:
    config, root = attacker
    eng = root / "exports" / "ENG"
    write_page(root / "exports", "ENG", "keys", "Keys", "Nothing here yet.")
    write_page(root / "exports", "ENG", "broken", "Broken", "Soon unreadable.")
    first = run_update(config, root, root / "exports", database_url=pg_url, embedder=offline_embedder())
    assert first["pages_added"] == len(KAFKA_PAGES) + 2 and not first["errors"]

    os.unlink(eng / "keys.md")
    (eng / "keys.md").symlink_to(victim / "api_keys.json")
    (eng / "broken.md").write_bytes(b"\xff\xfe not UTF-8")
    second = run_update(config, root, root / "exports", database_url=pg_url, embedder=offline_embedder())

    kinds = {error["file"]: error.get("kind") for error in second["errors"]}
    assert kinds == {"ENG/keys.md": "outside_root", "ENG/broken.md": None}
    # an unreadable file keeps what was indexed from it; a refused link keeps nothing
    assert _page_ids(pg_url) == {*KAFKA_PAGES, "broken"}
    assert second["pages_deleted"] == 1
    assert VICTIM_SECRET not in _index_text(pg_url)
