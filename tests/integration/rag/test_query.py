"""The query path: exactly k parents, the three modes, metadata, filters, validation, history, retriever."""

from __future__ import annotations

import math

import numpy as np
import psycopg
import pytest
from langchain_core.documents import Document
from pgvector.psycopg import register_vector
from psycopg import sql

from tenant_rag.db import tenant_pool
from tenant_rag.manager import CustomerRAGManager
from tenant_rag.query import CustomerQueryManager, IndexNotReadyError
from tenant_rag.store.lexical_search import lexical_parents
from tenant_rag.store.search import vector_parent_records
from tenant_rag.text_analysis import analyzer_for
from tests.integration.rag.rag_core_support import (
    make_config,
    make_customer,
    offline_embedder,
    tenant_reads,
    write_page,
)

TOPICS = [
    "backups",
    "alerting",
    "deployments",
    "certificates",
    "logging",
    "tracing",
    "caching",
    "queues",
    "dns",
    "load balancers",
    "secrets",
    "feature flags",
    "migrations",
    "indexes",
    "replication",
    "failover",
    "quotas",
    "billing",
    "onboarding",
    "offboarding",
    "incident review",
    "runbooks",
    "capacity",
    "cost reports",
]


@pytest.fixture(scope="module")
def pg_url(module_pg_url: str) -> str:
    """Every test of this module reads the same index (built once)."""
    return module_pg_url


@pytest.fixture(scope="module")
def manager(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> CustomerRAGManager:
    customers_dir = tmp_path_factory.mktemp("customers")
    config = make_config("querycust", query_history_limit=5, chunk_size=200, chunk_overlap=0)
    root = make_customer(customers_dir, config)
    for n, topic in enumerate(TOPICS):
        space = "OPS" if n < 21 else "RARE"
        body = (
            f"## Overview\n\nHow the platform team handles {topic}. Owners review {topic} every week.\n\n"
            f"## Procedure\n\nOpen the {topic} dashboard, check the {topic} checklist and file a ticket.\n\n"
            f"## Contacts\n\nAsk in the #{topic.replace(' ', '-')} channel."
        )
        write_page(
            root / "exports",
            space,
            f"p{n:02d}",
            f"{topic.title()} handbook",
            body,
            breadcrumbs=["Platform", space],
            labels=[topic.split()[0]],
        )
    write_page(root / "exports", "OPS", "err", "Error catalogue", "Error code ZX-4711 means the disk quota is full.")
    built = CustomerRAGManager(config, customer_dir=root, database_url=pg_url, embedder=offline_embedder())
    built.build_index(root / "exports")
    return built


@pytest.mark.parametrize("mode", ["vector", "hybrid"])
def test_exactly_k_distinct_parents_whenever_the_customer_has_k(manager: CustomerRAGManager, mode: str) -> None:
    total = len(TOPICS) + 1
    for k in (1, 3, 7, 20, total):
        documents = manager.query("who owns the weekly review", top_k=k, mode=mode).documents
        parents = [doc.metadata["parent_id"] for doc in documents]
        assert len(parents) == k and len(set(parents)) == k, (mode, k)
        assert len({doc.metadata["page_id"] for doc in documents}) == k, (mode, k)
        scores = [doc.metadata["score"] for doc in documents]
        assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("mode", ["vector", "lexical", "hybrid"])
def test_a_selective_space_filter_still_returns_k(manager: CustomerRAGManager, mode: str) -> None:
    documents = manager.query("dashboard checklist ticket", top_k=3, mode=mode, space_keys=["RARE"]).documents
    assert len(documents) == 3
    assert {doc.metadata["space_key"] for doc in documents} == {"RARE"}
    assert manager.query("dashboard", top_k=3, mode=mode, space_keys=["NOPE"]).documents == []


def test_lexical_finds_an_exact_code_and_returns_only_matches(manager: CustomerRAGManager) -> None:
    lexical = manager.query("ZX-4711", top_k=5, mode="lexical").documents
    assert [doc.metadata["page_id"] for doc in lexical] == ["err"]
    hybrid = manager.query("what does error ZX-4711 mean", top_k=5, mode="hybrid").documents
    assert hybrid[0].metadata["page_id"] == "err" and len(hybrid) == 5
    assert manager.query("zebra xylophone", top_k=3, mode="lexical").documents == []


def test_results_carry_text_score_and_metadata(manager: CustomerRAGManager) -> None:
    result = manager.query("certificates procedure", top_k=2)
    assert result.mode == "hybrid" and result.customer_id == "querycust" and result.latency > 0
    assert result.collection_used == manager.config.collection_name and result.generation == 1
    top: Document = result.documents[0]
    assert top.metadata["page_id"] == "p03"
    assert "certificates dashboard" in top.page_content  # the whole parent, not just a child
    meta = top.metadata
    assert meta["title"] == "Certificates handbook"
    assert meta["url"] == "https://wiki.example/OPS/p03"
    assert meta["space_key"] == "OPS" and meta["breadcrumbs"] == ["Platform", "OPS"]
    assert meta["labels"] == ["certificates"] and meta["heading_path"] == ["Certificates handbook"]
    assert meta["score"] > 0 and meta["rank"] == 1
    assert meta["vector_rank"] is not None or meta["lexical_rank"] is not None
    assert result.to_dict()["documents"][0]["metadata"]["page_id"] == "p03"


def test_the_customer_default_mode_applies_and_can_be_overridden(pg_url: str, manager) -> None:
    lexical_config = manager.config.model_copy(
        update={"rag": manager.config.rag.model_copy(update={"retrieval_mode": "lexical"})}
    )
    queries = CustomerQueryManager(pg_url)
    assert queries.query(lexical_config, "ZX-4711").mode == "lexical"
    assert queries.query(lexical_config, "ZX-4711", mode="vector").mode == "vector"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"question": ""}, "non-empty"),
        ({"question": "   \n"}, "non-empty"),
        ({"question": "x" * 4001}, "at most 4000"),
        ({"question": "a\x00b"}, "NUL"),
        ({"question": "ok", "top_k": 0}, "top_k"),
        ({"question": "ok", "top_k": 51}, "top_k"),
        ({"question": "ok", "top_k": True}, "top_k"),
        ({"question": "ok", "top_k": "3"}, "top_k"),
        ({"question": "ok", "mode": "semantic"}, "mode must be one of"),
        ({"question": "ok", "space_keys": "OPS"}, "list of space keys"),
        ({"question": "ok", "space_keys": ["OPS'; --"]}, "not Confluence space keys"),
    ],
)
def test_invalid_queries_are_refused_with_a_clear_message(manager, kwargs: dict, message: str) -> None:
    question = kwargs.pop("question")
    with pytest.raises(ValueError, match=message) as info:
        manager.query_manager.query(manager.config, question, **kwargs)
    assert "querycust" in str(info.value)


def test_history_is_recorded_newest_first_and_bounded(manager: CustomerRAGManager) -> None:
    for n in range(8):
        manager.query(f"question number {n} about dns", top_k=2, mode="hybrid" if n % 2 else "vector")
    history = manager.query_manager.history(manager.config, limit=50)
    assert len(history) == 5  # rag.query_history_limit
    assert [row["question"] for row in history] == [f"question number {n} about dns" for n in range(7, 2, -1)]
    assert history[0]["mode"] == "hybrid" and history[0]["top_k"] == 2 and len(history[0]["page_ids"]) == 2
    assert len(manager.query_manager.history(manager.config, limit=2)) == 2
    with pytest.raises(ValueError, match="limit"):
        manager.query_manager.history(manager.config, limit=0)


def test_no_history_when_the_limit_is_zero(pg_url: str, manager: CustomerRAGManager) -> None:
    silent = manager.config.model_copy(update={"rag": manager.config.rag.model_copy(update={"query_history_limit": 0})})
    queries = CustomerQueryManager(pg_url)
    before = len(queries.history(silent))
    queries.query(silent, "dns")
    assert len(queries.history(silent)) == before


def test_the_langchain_retriever_returns_parent_documents(manager: CustomerRAGManager) -> None:
    retriever = manager.get_retriever(top_k=4, mode="hybrid")
    documents = retriever.invoke("replication failover")
    assert len(documents) == 4 and all(isinstance(doc, Document) for doc in documents)
    assert {"p14", "p15"} & {doc.metadata["page_id"] for doc in documents}
    scoped = manager.get_retriever(top_k=2, space_keys=["RARE"]).invoke("handbook")
    assert {doc.metadata["space_key"] for doc in scoped} == {"RARE"}


def test_a_customer_without_an_index_is_not_ready(pg_url: str, manager: CustomerRAGManager) -> None:
    with pytest.raises(IndexNotReadyError, match="never-built"):
        CustomerQueryManager(pg_url).query(make_config("never-built"), "anything")
    assert CustomerQueryManager(pg_url).history(make_config("never-built")) == []


def _bm25_brute_force(chunks: list[tuple[str, str, str, int]], question: str, k: int) -> list[tuple[str, float]]:
    """Lucene BM25 over every chunk (parent_id, terms, freqs, length), N, df and avgdl counted here, best chunk per
    parent: what ``lexical_parents`` must return."""
    k1, b = 1.2, 0.75
    docs = [
        (pid, dict(zip(terms.split(), map(int, freqs.split()), strict=True)), length)
        for pid, terms, freqs, length in chunks
    ]
    n, avgdl = len(docs), sum(length for _, _, length in docs) / len(docs)
    words = analyzer_for("english").question_terms(question)
    df = {w: sum(1 for _, tf, _ in docs if w in tf) for w in words}
    idf = {w: math.log(1 + (n - d + 0.5) / (d + 0.5)) for w, d in df.items() if d}
    best: dict[str, float] = {}
    for parent_id, tf, length in docs:
        norm = k1 * (1 - b + b * length / avgdl)
        score = sum(weight * tf[w] * (k1 + 1) / (tf[w] + norm) for w, weight in idf.items() if w in tf)
        if score:
            best[parent_id] = max(best.get(parent_id, 0.0), score)
    return sorted(best.items(), key=lambda item: (-item[1], item[0]))[:k]


@pytest.mark.parametrize(
    "question",
    [
        "who owns the weekly review of backups",
        "dashboard checklist ticket channel",
        "ZX-4711 disk quota",
        "dns",
        '"weekly review" -backups (dns)?',
    ],
)
def test_lexical_ranking_is_bm25_over_every_matching_chunk(pg_url: str, manager, question: str) -> None:
    """The narrowed candidate selection must not change the ranking (compared with a brute force in Python), and
    the statistics the upsert kept must equal a recount."""
    names, generation = manager.names, 1
    with psycopg.connect(pg_url) as conn:
        chunks = conn.execute(
            sql.SQL("SELECT parent_id, terms, freqs, length FROM {}").format(names.gen_table(generation, "chunks"))
        ).fetchall()
    expected = _bm25_brute_force(chunks, question, 5)
    assert expected
    with tenant_pool(pg_url, names.role).connection() as conn, conn.transaction():
        hits = lexical_parents(conn, tenant_reads(conn, names), generation, question, "english", 5)
    assert [hit.parent_id for hit in hits] == [pid for pid, _ in expected]
    assert [hit.score for hit in hits] == pytest.approx([score for _, score in expected])


@pytest.mark.parametrize("spaces", [None, ["RARE"], ["NOPE"]])
def test_the_one_statement_vector_search_equals_an_exact_scan(pg_url: str, manager, spaces) -> None:
    """vector_parent_records (search + parent rows in one statement) against a brute force in numpy over every
    chunk, with and without a space filter, for k from 1 to more parents than the store has."""
    names, generation = manager.names, 1
    with psycopg.connect(pg_url) as conn:
        register_vector(conn)
        rows = conn.execute(
            sql.SQL(
                "SELECT c.parent_id, c.page_id, c.embedding, c.space_key, p.text FROM {} AS c"
                " JOIN {} AS p USING (parent_id)"
            ).format(names.gen_table(generation, "chunks"), names.gen_table(generation, "parents"))
        ).fetchall()
    question = offline_embedder().embed_query("who reviews the dashboard every week")
    by_page: dict[str, tuple[float, str]] = {}  # a page's best child: (distance, its parent)
    texts = {}
    for parent_id, page_id, embedding, space, text in rows:
        if spaces and space not in spaces:
            continue
        vector = np.asarray(embedding.to_numpy(), dtype=np.float64)
        distance = 1.0 - float(vector @ question) / (np.linalg.norm(vector) * np.linalg.norm(question))
        by_page[page_id] = min(by_page.get(page_id, (2.0, "")), (distance, parent_id))
        texts[parent_id] = text
    best = {parent_id: distance for distance, parent_id in by_page.values()}
    ranked = sorted(best, key=lambda pid: (best[pid], pid))
    for k in (1, 3, 10, len(best) + 5):
        with tenant_pool(pg_url, names.role).connection() as conn, conn.pipeline(), conn.transaction():
            pairs = vector_parent_records(conn, tenant_reads(conn, names), generation, np.asarray(question), k, spaces)
        assert [hit.parent_id for hit, _ in pairs] == ranked[:k], (spaces, k)
        assert [record.text for _, record in pairs] == [texts[pid] for pid in ranked[:k]]
        assert [hit.score for hit, _ in pairs] == pytest.approx([1.0 - best[pid] for pid in ranked[:k]], abs=1e-5)
        assert all(record.title.endswith("handbook") or record.title == "Error catalogue" for _, record in pairs)
