"""The offline WordLlama embedder, the shared helpers, and how the factory picks and configures embedders."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from tenant_rag.config import RAGConfig
from tenant_rag.embedding import (
    Embedder,
    EmbeddingError,
    embedding_model_id,
    get_embedder,
    iter_batches,
    normalize_rows,
)
from tenant_rag.embedding.factory import resolve_gemini_credentials
from tenant_rag.embedding.offline import WordLlamaEmbedder, load_wordllama
from tenant_rag.errors import TenantRagError

DOCS = [
    "Install PostgreSQL with apt and start the database server.",
    "The database server is installed with the apt package manager.",
    "Bake the banana bread for forty minutes at 180 degrees.",
    "Configure the HNSW index on the vector column for cosine distance.",
]


@pytest.fixture(scope="module")
def embedder() -> WordLlamaEmbedder:
    built = get_embedder(RAGConfig(), customer_id="acme")
    assert isinstance(built, WordLlamaEmbedder)
    return built


def test_offline_is_the_default_and_satisfies_the_protocol(embedder: WordLlamaEmbedder) -> None:
    assert isinstance(embedder, Embedder)
    assert embedder.model_id == "wordllama-l2-256" == embedding_model_id(RAGConfig())
    assert embedder.dimensions == 256 == RAGConfig().dimensions


def test_documents_are_float32_unit_rows(embedder: WordLlamaEmbedder) -> None:
    vectors = embedder.embed_documents(DOCS)
    assert vectors.shape == (len(DOCS), 256)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    query = embedder.embed_query("how do I install the database?")
    assert query.shape == (256,)
    assert query.dtype == np.float32
    assert abs(float(np.linalg.norm(query)) - 1.0) < 1e-5


def test_empty_input_and_empty_text(embedder: WordLlamaEmbedder) -> None:
    calls = embedder.calls
    empty = embedder.embed_documents([])
    assert empty.shape == (0, 256)
    assert empty.dtype == np.float32
    assert embedder.calls == calls
    blank = embedder.embed_documents(["", "   "])
    assert np.isfinite(blank).all()
    np.testing.assert_allclose(np.linalg.norm(blank, axis=1), 1.0, atol=1e-5)


def test_embeddings_are_deterministic_across_calls_instances_and_batches() -> None:
    first = WordLlamaEmbedder(batch_size=100).embed_documents(DOCS)
    second = WordLlamaEmbedder(batch_size=1).embed_documents(DOCS)
    np.testing.assert_allclose(first, second, atol=1e-6)
    query = WordLlamaEmbedder().embed_query(DOCS[2])
    np.testing.assert_allclose(query, first[2], atol=1e-6)


def test_similar_texts_are_closer_than_unrelated_ones(embedder: WordLlamaEmbedder) -> None:
    vectors = embedder.embed_documents(DOCS)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2] + 0.2
    assert similarity[0, 1] > similarity[1, 2] + 0.2
    query = embedder.embed_query("installing a postgres database")
    assert int(np.argmax(vectors @ query)) in (0, 1)
    assert float(vectors[2] @ query) < float(vectors[0] @ query)


def test_one_call_per_batch_of_the_configured_size() -> None:
    embedder = get_embedder(RAGConfig(embedding_batch_size=40))
    texts = [f"page {n} talks about topic {n % 7}" for n in range(250)]
    vectors = embedder.embed_documents(texts)
    assert vectors.shape == (250, 256)
    assert embedder.calls == 7
    assert embedder.texts_embedded == 250
    embedder.embed_query("topic 3")
    assert (embedder.calls, embedder.texts_embedded) == (8, 251)


def test_model_is_loaded_once_and_shared_by_threads() -> None:
    assert load_wordllama() is load_wordllama()
    embedder = WordLlamaEmbedder(batch_size=8)
    texts = [f"{doc} variant {n}" for n in range(10) for doc in DOCS]
    expected = embedder.embed_documents(texts)
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(embedder.embed_documents(texts))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(results) == 4
    for result in results:
        np.testing.assert_allclose(result, expected, atol=1e-6)
    assert embedder.calls == 5 * 5  # 40 texts in batches of 8, once before and four times in threads


def test_normalize_rows_handles_zero_and_nan_rows() -> None:
    raw = np.array([[3.0, 4.0], [0.0, 0.0], [np.nan, 1.0]], dtype=np.float64)
    out = normalize_rows(raw)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0], [0.6, 0.8], atol=1e-6)
    np.testing.assert_allclose(out[1], [2**-0.5, 2**-0.5], atol=1e-6)
    np.testing.assert_allclose(out[2], [0.0, 1.0], atol=1e-6)
    with pytest.raises(ValueError, match="2-d"):
        normalize_rows(np.zeros(3))


def test_iter_batches() -> None:
    assert [len(b) for b in iter_batches([str(n) for n in range(250)], 100)] == [100, 100, 50]
    assert list(iter_batches([], 10)) == []
    with pytest.raises(ValueError, match="at least 1"):
        list(iter_batches(["a"], 0))


def test_gemini_model_ids_include_the_dimension() -> None:
    assert embedding_model_id(RAGConfig(embedding_model="gemini-embedding-001")) == "gemini-embedding-001@768"
    rag = RAGConfig(embedding_model="gemini-embedding-001", embedding_dimensions=1536)
    assert embedding_model_id(rag) == "gemini-embedding-001@1536"


def test_missing_gemini_key_names_the_customer_and_where_to_put_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GOOGLE_API_KEY", "GEMINI_API_KEY", "AIRFLOW_CONN_GOOGLE_GENAI_DEFAULT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(EmbeddingError) as caught:
        get_embedder(RAGConfig(embedding_model="gemini-embedding-001"), customer_id="acme-corp")
    message = str(caught.value)
    assert "customer 'acme-corp'" in message
    assert "google_genai_default" in message
    assert "GOOGLE_API_KEY" in message
    assert isinstance(caught.value, TenantRagError)
    assert caught.value.customer_id == "acme-corp"


def test_gemini_credentials_resolution_order(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GOOGLE_API_KEY", "GEMINI_API_KEY", "TENANT_RAG_GEMINI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    rag = RAGConfig(embedding_model="gemini-embedding-001", embedding_conn_id="genai_acme")
    monkeypatch.delenv("AIRFLOW_CONN_GENAI_ACME", raising=False)
    assert resolve_gemini_credentials(rag, None, None) == (None, None)

    monkeypatch.setenv("GOOGLE_API_KEY", "from-env")
    monkeypatch.setenv("TENANT_RAG_GEMINI_BASE_URL", "http://127.0.0.1:9/")
    assert resolve_gemini_credentials(rag, None, None) == ("from-env", "http://127.0.0.1:9/")

    monkeypatch.setenv("AIRFLOW_CONN_GENAI_ACME", json.dumps({"conn_type": "generic", "password": "from-conn"}))
    assert resolve_gemini_credentials(rag, None, None) == ("from-conn", "http://127.0.0.1:9/")

    monkeypatch.setenv("AIRFLOW_CONN_GENAI_ACME", "generic://:s%2Fecret@?base_url=http%3A%2F%2Fproxy%3A8080")
    assert resolve_gemini_credentials(rag, None, None) == ("s/ecret", "http://proxy:8080")

    extra_as_string = {"conn_type": "generic", "extra": json.dumps({"api_key": "in-extra"})}
    monkeypatch.setenv("AIRFLOW_CONN_GENAI_ACME", json.dumps(extra_as_string))
    assert resolve_gemini_credentials(rag, None, None) == ("in-extra", "http://127.0.0.1:9/")

    assert resolve_gemini_credentials(rag, "explicit", "http://x") == ("explicit", "http://x")
