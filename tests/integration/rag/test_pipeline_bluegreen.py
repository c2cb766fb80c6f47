"""Model change: a new generation is built next to the live one; queries answer at every step; atomic switch.

The new model is ``gemini-embedding-001`` served by the local fake Gemini server (real HTTP on 127.0.0.1), so the
real Gemini embedder code path runs; the old one is the offline WordLlama model.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tenant_rag.config import CustomerConfig
from tenant_rag.constants import GEMINI_BASE_URL_ENV
from tenant_rag.embedding.factory import get_embedder
from tenant_rag.pipeline.chunk import chunk_changes
from tenant_rag.pipeline.detect import detect_changes
from tenant_rag.pipeline.embed import embed_batch
from tenant_rag.pipeline.run import run_update
from tenant_rag.pipeline.staging import staging_for
from tenant_rag.pipeline.upsert import upsert_changes
from tenant_rag.query import CustomerQueryManager
from tenant_rag.runs.options import RunOptions
from tenant_rag_devtools.fake_gemini_server import FakeGeminiServer
from tests.integration.rag.rag_core_support import (
    GARDEN_PAGES,
    KAFKA_PAGES,
    FailingEmbedder,
    index_content,
    make_config,
    make_customer,
    offline_embedder,
    rag_pools,  # noqa: F401 - fixture
    schema_of,
    write_pages,
)

pytestmark = pytest.mark.usefixtures("rag_pools")


@pytest.fixture
def gemini(monkeypatch: pytest.MonkeyPatch):
    with FakeGeminiServer(api_key="test-key") as server:
        monkeypatch.setenv(GEMINI_BASE_URL_ENV, server.base_url)
        monkeypatch.setenv("GOOGLE_API_KEY", "test-key")
        yield server


def _tables(url: str, customer_id: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema_of(customer_id),))
        return {row[0] for row in rows}


def _assert_answers(queries: CustomerQueryManager, config: CustomerConfig, model_id: str) -> None:
    for mode in ("vector", "lexical", "hybrid"):
        result = queries.query(config, "how do consumer groups rebalance", top_k=3, mode=mode)
        assert len(result.documents) == (1 if mode == "lexical" else 3), mode  # one page has these words
        assert result.model_id == model_id
        assert result.documents[0].metadata["page_id"] == "k1", (mode, result.documents[0].metadata)


def test_model_change_builds_a_new_generation_while_queries_keep_answering(
    pg_url: str, customers_dir: Path, gemini: FakeGeminiServer
) -> None:
    old = make_config("bluegreen", embedding_batch_size=2)
    root = make_customer(customers_dir, old)
    write_pages(root / "exports", "ENG", KAFKA_PAGES)
    write_pages(root / "exports", "ENG", GARDEN_PAGES)
    run_update(old, root, root / "exports", database_url=pg_url, embedder=offline_embedder())
    queries = CustomerQueryManager(pg_url)
    _assert_answers(queries, old, "wordllama-l2-256")
    old_content = index_content(pg_url, "bluegreen")

    new = make_config(
        "bluegreen", embedding_model="gemini-embedding-001", embedding_dimensions=64, embedding_batch_size=2
    )
    staging = staging_for(root, "model-change")
    detected = detect_changes(new, root, root / "exports", staging, RunOptions(), database_url=pg_url)
    assert detected["target_status"] == "new" and detected["generation"] == 2 and detected["new"] == 8
    _assert_answers(queries, new, "wordllama-l2-256")
    chunked = chunk_changes(new, root / "exports", staging, database_url=pg_url)
    assert chunked["reused"] == 0 and chunked["embed_batches"] >= 4  # another model: nothing reusable
    _assert_answers(queries, new, "wordllama-l2-256")
    embedder = get_embedder(new.rag, customer_id="bluegreen")
    for index in range(chunked["embed_batches"]):
        embed_batch(new, staging, index, embedder)
        _assert_answers(queries, new, "wordllama-l2-256")
    assert gemini.texts_per_call and max(gemini.texts_per_call) <= 2

    seen_during_upsert = []

    def query_between_transactions(stage: str, done: int, total: int) -> None:
        result = queries.query(new, "how do consumer groups rebalance", top_k=3)
        seen_during_upsert.append((done, result.model_id, len(result.documents)))

    upserted = upsert_changes(
        new,
        root,
        staging,
        RunOptions(),
        database_url=pg_url,
        progress=query_between_transactions,
        pages_per_transaction=3,
    )
    assert upserted["switched"] and upserted["live_generation"] == 2
    # batches of 3, 3 and 2 pages commit side by side (parallel writers), in whatever order they finish: the
    # progress points are the running sums of that order, e.g. 3, 6, 8 or 2, 5, 8 or 3, 5, 8
    dones = [done for done, _, _ in seen_during_upsert]
    assert sorted(b - a for a, b in zip([0, *dones], dones, strict=False)) == [2, 3, 3], seen_during_upsert
    assert dones[-1] == 8 and dones == sorted(dones)
    assert {(model, found) for _, model, found in seen_during_upsert} == {("wordllama-l2-256", 3)}
    _assert_answers(queries, new, "gemini-embedding-001@64")
    assert not any(name.startswith("g1_") for name in _tables(pg_url, "bluegreen"))
    new_content = index_content(pg_url, "bluegreen")
    assert [row[:2] for row in new_content["parents"]] == [row[:2] for row in old_content["parents"]]
    assert {row[3] for row in new_content["chunks"]} == {"gemini-embedding-001@64"}
    staging.cleanup()


def test_a_crashed_model_change_is_resumed_and_the_old_generation_serves_meanwhile(
    pg_url: str, customers_dir: Path, gemini: FakeGeminiServer
) -> None:
    old = make_config("resume", embedding_batch_size=2)
    root = make_customer(customers_dir, old)
    write_pages(root / "exports", "ENG", KAFKA_PAGES)
    run_update(old, root, root / "exports", database_url=pg_url, embedder=offline_embedder())
    new = make_config("resume", embedding_model="gemini-embedding-001", embedding_dimensions=64, embedding_batch_size=2)

    def crash_after_first(stage: str, done: int, total: int) -> None:
        if stage == "upsert":
            raise RuntimeError("worker lost")

    with pytest.raises(RuntimeError, match="worker lost"):
        run_update(
            new,
            root,
            root / "exports",
            database_url=pg_url,
            progress=crash_after_first,
            pages_per_transaction=2,
            writers=1,  # one batch in flight at the crash (test_parallel_writer covers a failure among several)
        )
    queries = CustomerQueryManager(pg_url)
    assert queries.query(new, "schema registry", top_k=2).model_id == "wordllama-l2-256"
    calls_before = gemini.calls
    stats = run_update(new, root, root / "exports", database_url=pg_url)
    assert stats["target_status"] == "building" and stats["pages_unchanged"] == 2 and stats["pages_added"] == 2
    assert stats["switched"]
    assert gemini.calls - calls_before == stats["embedding_calls"] + 0  # only the two remaining pages' texts
    assert stats["chunks_embedded"] == 2
    assert queries.query(new, "schema registry", top_k=2).model_id == "gemini-embedding-001@64"


def test_the_embedder_must_match_the_configured_model(pg_url: str, customers_dir: Path) -> None:
    config = make_config("mismatch", embedding_model="gemini-embedding-001", embedding_dimensions=64)
    root = make_customer(customers_dir, config)
    write_pages(root / "exports", "ENG", KAFKA_PAGES)
    with pytest.raises(ValueError, match=r"mismatch.*wordllama-l2-256.*gemini-embedding-001@64"):
        run_update(
            config,
            root,
            root / "exports",
            database_url=pg_url,
            embedder=FailingEmbedder(offline_embedder(), fail_on=99),
        )


def test_a_text_search_config_change_rebuilds_without_embedding_again(pg_url: str, customers_dir: Path) -> None:
    english = make_config("tsconfig")
    root = make_customer(customers_dir, english)
    write_pages(root / "exports", "ENG", KAFKA_PAGES)
    run_update(english, root, root / "exports", database_url=pg_url, embedder=offline_embedder())
    queries = CustomerQueryManager(pg_url)
    assert queries.query(english, "rebalances", top_k=1, mode="lexical").documents[0].metadata["page_id"] == "k1"
    simple = make_config("tsconfig", text_search_config="simple")
    embedder = offline_embedder()
    stats = run_update(simple, root, root / "exports", database_url=pg_url, embedder=embedder)
    assert stats["target_status"] == "new" and stats["switched"] and stats["generation"] == 2
    assert embedder.calls == 0 and stats["chunks_reused"] == stats["chunks"]  # same model: vectors carried over
    # 'simple' does not stem: only the exact word matches now
    assert queries.query(simple, "rebalances", top_k=3, mode="lexical").documents == []
    result = queries.query(simple, "rebalance", top_k=1, mode="lexical")
    assert result.generation == 2 and result.documents[0].metadata["page_id"] == "k1"


def test_a_query_that_read_a_generation_just_switched_away_retries(
    pg_url: str, customers_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The switch may commit between reading the live generation and searching it: the query reads it again."""
    config = make_config("race")
    root = make_customer(customers_dir, config)
    write_pages(root / "exports", "ENG", KAFKA_PAGES)
    run_update(config, root, root / "exports", database_url=pg_url, embedder=offline_embedder())
    queries = CustomerQueryManager(pg_url)
    stale = queries.active_generation(config)
    run_update(make_config("race", text_search_config="simple"), root, root / "exports", database_url=pg_url)
    assert "g1_chunks" not in _tables(pg_url, "race")
    answers = [stale]
    real = CustomerQueryManager.active_generation
    monkeypatch.setattr(
        CustomerQueryManager, "active_generation", lambda self, cfg: answers.pop() if answers else real(self, cfg)
    )
    result = queries.query(config, "schema registry", top_k=1)
    assert result.generation == 2 and result.documents[0].metadata["page_id"] == "k3"
