"""The chunk stage works a window of texts at a time and the upsert reads vector files through a small cache:
the index must be the same as with one big window, repeated texts are embedded once across windows, and an
incremental run reuses stored vectors in every window."""

from __future__ import annotations

from pathlib import Path

import pytest

from tenant_rag.pipeline import chunk as chunk_stage
from tenant_rag.pipeline import upsert as upsert_stage
from tenant_rag.pipeline.run import run_update
from tests.integration.rag.rag_core_support import (
    index_content,
    make_config,
    make_customer,
    offline_embedder,
    rag_pools,  # noqa: F401 - fixture
    write_page,
)

pytestmark = pytest.mark.usefixtures("rag_pools")

BOILERPLATE = "## Support\n\nQuestions go to the platform team's channel; urgent ones page the on-call engineer."


def _write_corpus(exports: Path, pages: int = 12) -> None:
    for n in range(pages):
        body = "\n\n".join(
            f"## Part {s}\n\nPage {n} part {s} covers topic {n * 10 + s} in enough words to be a chunk of its own."
            for s in range(3)
        )
        write_page(exports, "ENG", f"page{n:02d}", "Team page", body + "\n\n" + BOILERPLATE)


def _build(customer_id: str, customers_dir: Path, pg_url: str, **kwargs):
    config = make_config(customer_id, chunk_size=120, chunk_overlap=0, embedding_batch_size=5)
    root = make_customer(customers_dir, config)
    _write_corpus(root / "exports")
    embedder = offline_embedder()
    stats = run_update(config, root, root / "exports", database_url=pg_url, embedder=embedder, **kwargs)
    return config, root, embedder, stats


def test_small_windows_and_a_tiny_file_cache_build_the_same_index(
    pg_url: str, customers_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    *_, wide = _build("wide", customers_dir, pg_url)
    monkeypatch.setattr(chunk_stage, "WINDOW_CHILDREN", 3)
    monkeypatch.setattr(upsert_stage._Vectors, "CACHED_FILES", 1)
    _, root, embedder, narrow = _build("narrow", customers_dir, pg_url, pages_per_transaction=2)
    assert index_content(pg_url, "narrow") == index_content(pg_url, "wide")
    # the boilerplate section (same title, heading and text) is on every page but embedded once, although the
    # pages are in different windows
    assert narrow["chunks_embedded"] == wide["chunks_embedded"] == narrow["chunks"] - 11
    assert embedder.calls == narrow["embed_batches"] == wide["embed_batches"]
    assert not (root / "cache" / "staging").exists() or not any((root / "cache" / "staging").iterdir())


def test_an_incremental_run_reuses_stored_vectors_in_every_window(
    pg_url: str, customers_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chunk_stage, "WINDOW_CHILDREN", 2)
    config, root, _, first = _build("reuse", customers_dir, pg_url)
    before = index_content(pg_url, "reuse")
    for n in range(12):  # every page changed (new labels), same texts: every vector comes from the store
        body = "\n\n".join(
            f"## Part {s}\n\nPage {n} part {s} covers topic {n * 10 + s} in enough words to be a chunk of its own."
            for s in range(3)
        )
        write_page(
            root / "exports", "ENG", f"page{n:02d}", "Team page", body + "\n\n" + BOILERPLATE, version=2, labels=["v2"]
        )
    embedder = offline_embedder()
    again = run_update(config, root, root / "exports", database_url=pg_url, embedder=embedder)
    assert again["pages_updated"] == 12 and again["chunks_embedded"] == 0 and embedder.calls == 0
    assert again["chunks_reused"] == first["chunks"]
    assert index_content(pg_url, "reuse")["chunks"] == before["chunks"]
