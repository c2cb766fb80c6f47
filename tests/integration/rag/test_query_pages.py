"""One page, one slot (every mode), and questions as plain text (no query syntax from user input)."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest
from pgvector.psycopg import register_vector
from psycopg import sql

from tenant_rag.db import tenant_pool
from tenant_rag.manager import CustomerRAGManager
from tenant_rag.store.lexical_pages import lexical_pages
from tenant_rag.store.lexical_search import lexical_parents
from tenant_rag.store.search import vector_parent_records
from tests.integration.rag.rag_core_support import (
    make_config,
    make_customer,
    offline_embedder,
    tenant_reads,
    write_page,
)

MODES = ["vector", "lexical", "hybrid"]
# one long page (many parents, every one about ingress) and short pages, some of which mention ingress
LONG_BODY = "\n\n".join(
    f"## Ingress part {n}\n\nThe ingress controller routes traffic for service {n}; ingress rules list hosts."
    for n in range(12)
)
SHORT_PAGES = {
    "s0": ("Ingress basics", "An ingress exposes HTTP routes from outside the cluster to services."),
    "s1": ("Retention", 'Set "retention.ms" on the topic to keep messages longer; the default is seven days.'),
    "s2": ("Cafés", "The naïve café near the office serves 日本語 menus and good espresso."),
    "s3": ("Flags", "Run kubectl with --dry-run=client to preview; -n selects the namespace."),
    "s4": ("Tables", "Never DROP TABLE in production; ask the database team for a migration review."),
    "s5": ("Gardening", "Tomatoes need sun, water and a stake once they grow tall."),
    "s6": ("Ingress TLS", "Terminate TLS at the ingress with a certificate secret."),
}
PAGES = 1 + len(SHORT_PAGES)
INGRESS_PAGES = {"long", "s0", "s6"}


@pytest.fixture(scope="module")
def manager(module_pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> CustomerRAGManager:
    config = make_config("pagecust", chunk_size=100, chunk_overlap=0, parent_chunk_size=150, query_history_limit=0)
    root = make_customer(tmp_path_factory.mktemp("customers"), config)
    write_page(root / "exports", "OPS", "long", "Ingress operations", LONG_BODY)
    for page_id, (title, body) in SHORT_PAGES.items():
        write_page(root / "exports", "OPS", page_id, title, body)
    built = CustomerRAGManager(config, customer_dir=root, database_url=module_pg_url, embedder=offline_embedder())
    built.build_index(root / "exports")
    return built


def _parents_of(url: str, manager: CustomerRAGManager, page_id: str) -> int:
    with psycopg.connect(url) as conn:
        statement = sql.SQL("SELECT count(*) FROM {} WHERE page_id = %s").format(manager.names.gen_table(1, "parents"))
        return int(conn.execute(statement, (page_id,)).fetchone()[0])


@pytest.mark.parametrize("mode", MODES)
def test_a_page_fills_at_most_one_slot_and_k_pages_come_back(module_pg_url, manager, mode: str) -> None:
    assert _parents_of(module_pg_url, manager, "long") >= 6  # the page that could crowd the top k
    question = "ingress controller rules"
    matching = PAGES if mode != "lexical" else len(INGRESS_PAGES)
    for k in range(1, PAGES + 3):
        documents = manager.query(question, top_k=k, mode=mode).documents
        pages = [doc.metadata["page_id"] for doc in documents]
        assert len(pages) == len(set(pages)) == min(k, matching), (mode, k, pages)
        if mode == "lexical":
            assert set(pages) <= INGRESS_PAGES


def test_lexical_pages_keep_each_pages_best_parent_in_order(module_pg_url, manager) -> None:
    names = manager.names
    with tenant_pool(module_pg_url, names.role).connection() as conn, conn.transaction():
        reading = tenant_reads(conn, names)
        parents = lexical_parents(conn, reading, 1, "ingress controller rules", "english", 50)
        pages = lexical_pages(conn, reading, 1, "ingress controller rules", "english", 3)
    expected = []
    for hit in parents:  # parents come best first: the first parent of a page is its best
        if hit.page_id not in [e.page_id for e in expected]:
            expected.append(hit)
    assert len(parents) > len(expected) == 3
    assert [(hit.parent_id, hit.score) for hit in pages] == [(hit.parent_id, hit.score) for hit in expected]
    assert [hit.lexical_rank for hit in pages] == [1, 2, 3]


def test_vector_pages_equal_an_exact_scan_by_page(module_pg_url, manager) -> None:
    names = manager.names
    with psycopg.connect(module_pg_url) as conn:
        register_vector(conn)
        rows = conn.execute(
            sql.SQL("SELECT parent_id, page_id, embedding FROM {}").format(names.gen_table(1, "chunks"))
        ).fetchall()
    question = offline_embedder().embed_query("where is TLS terminated for ingress traffic")
    best: dict[str, tuple[float, str]] = {}
    for parent_id, page_id, embedding in rows:
        vector = np.asarray(embedding.to_numpy(), dtype=np.float64)
        distance = 1.0 - float(vector @ question) / (np.linalg.norm(vector) * np.linalg.norm(question))
        best[page_id] = min(best.get(page_id, (2.0, "")), (distance, parent_id))
    ranked = sorted(best.values())
    for k in (1, 3, PAGES, PAGES + 4):
        with tenant_pool(module_pg_url, names.role).connection() as conn, conn.transaction():
            pairs = vector_parent_records(conn, tenant_reads(conn, names), 1, np.asarray(question), k)
        assert [hit.parent_id for hit, _ in pairs] == [parent for _, parent in ranked[:k]], k
        assert [record.page_id for _, record in pairs] == [hit.page_id for hit, _ in pairs]


@pytest.mark.parametrize(
    ("question", "page"),
    [
        ('what does "retention.ms" change', "s1"),  # quotes were a required phrase
        ('"retention.ms days" "never written together"', "s1"),
        ("-n namespace", "s3"),  # a leading dash was an exclusion
        ("-ingress -tls certificate", "s6"),
        ("kubectl --dry-run=client", "s3"),
        ("'; DROP TABLE chunks; --", "s4"),
        ("tomatoes:* & (sun | !water) <-> stake", "s5"),
        ("naïve café 日本語", "s2"),
        (r"C:\Users\me\espresso.txt espresso", "s2"),
        ("!!! ??? ... tomatoes ,,,", "s5"),
    ],
)
@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
def test_questions_are_plain_text(manager, question: str, page: str, mode: str) -> None:
    pages = [doc.metadata["page_id"] for doc in manager.query(question, top_k=3, mode=mode).documents]
    assert page in pages, (question, pages)


@pytest.mark.parametrize("question", ["!!! ??? ...", "-", '""', "- -- ---", "the of and", "&|!():*<->"])
@pytest.mark.parametrize("mode", MODES)
def test_a_question_without_an_indexed_word_is_no_error(manager, question: str, mode: str) -> None:
    documents = manager.query(question, top_k=3, mode=mode).documents
    assert len(documents) == (3 if mode != "lexical" else 0)
