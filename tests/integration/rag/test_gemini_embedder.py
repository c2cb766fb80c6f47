"""The Gemini embedder through google-genai, against a local fake Gemini server.

The fake speaks ``batchEmbedContents`` over real HTTP on 127.0.0.1; the client is pointed at it with its base URL.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from tenant_rag.config import RAGConfig
from tenant_rag.embedding import EmbeddingError, EmbeddingUnavailableError, get_embedder
from tenant_rag.embedding.gemini import GeminiEmbedder
from tenant_rag_devtools.fake_gemini_server import FakeGeminiServer, running_fake_gemini

KEY = "test-key"
GEMINI = RAGConfig(embedding_model="gemini-embedding-001")


@pytest.fixture
def server() -> Iterator[FakeGeminiServer]:
    with FakeGeminiServer(api_key=KEY) as running:
        yield running


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No API key or base URL from the caller's shell; loopback traffic never goes through a proxy."""
    for name in ("GOOGLE_API_KEY", "GEMINI_API_KEY", "AIRFLOW_CONN_GOOGLE_GENAI_DEFAULT", "TENANT_RAG_GEMINI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")


def embedder_for(server: FakeGeminiServer, rag: RAGConfig = GEMINI, **options: object) -> GeminiEmbedder:
    settings: dict[str, object] = {"retry_initial_delay_s": 0.01, "retry_max_delay_s": 0.05, "customer_id": "acme"}
    settings.update(options)
    built = get_embedder(rag, api_key=KEY, base_url=server.base_url, **settings)  # type: ignore[arg-type]
    assert isinstance(built, GeminiEmbedder)
    return built


def texts(count: int) -> list[str]:
    return [f"Chunk {n}: how to configure service {n % 13} behind the proxy" for n in range(count)]


def test_250_texts_go_out_in_three_requests_of_at_most_100(server: FakeGeminiServer) -> None:
    embedder = embedder_for(server)
    vectors = embedder.embed_documents(texts(250))
    assert vectors.shape == (250, 768)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert server.texts_per_call == [100, 100, 50]
    assert (embedder.calls, embedder.texts_embedded) == (3, 250)
    assert embedder.model_id == "gemini-embedding-001@768"
    assert [r.texts for r in server.successful] == [texts(250)[:100], texts(250)[100:200], texts(250)[200:]]


def test_batch_size_comes_from_the_config(server: FakeGeminiServer) -> None:
    embedder = embedder_for(server, RAGConfig(embedding_model="gemini-embedding-001", embedding_batch_size=40))
    embedder.embed_documents(texts(250))
    assert server.texts_per_call == [40] * 6 + [10]
    assert embedder.calls == 7


def test_long_texts_still_go_one_hundred_per_request(server: FakeGeminiServer) -> None:
    long_texts = [" ".join(f"word{n}-{k}" for k in range(200)) for n in range(250)]
    embedder = embedder_for(server)
    vectors = embedder.embed_documents(long_texts)
    assert vectors.shape == (250, 768)
    assert server.texts_per_call == [100, 100, 50]  # ceil(n / 100) calls, not LangChain's token-guess split
    assert embedder.calls == 3


def test_a_batch_refused_as_too_large_is_split_in_half(server: FakeGeminiServer) -> None:
    long_texts = [f"text {n} " + "x" * 1200 for n in range(100)]  # ~300 tokens each, ~30,000 per batch
    server.configure(max_request_tokens=16_000)
    embedder = embedder_for(server)
    vectors = embedder.embed_documents(long_texts)
    assert vectors.shape == (100, 768)
    assert server.texts_per_call == [50, 50]
    assert [r.status for r in server.requests] == [400, 200, 200]
    reference = embedder_for(server).embed_documents(long_texts[:3])
    assert np.allclose(vectors[:3], reference)


def test_empty_input_makes_no_request(server: FakeGeminiServer) -> None:
    embedder = embedder_for(server)
    assert embedder.embed_documents([]).shape == (0, 768)
    assert server.attempts == 0
    assert embedder.calls == 0


def test_documents_and_queries_use_their_task_types(server: FakeGeminiServer) -> None:
    embedder = embedder_for(server)
    documents = embedder.embed_documents(["Reset a password in the admin console", "Rotate TLS certificates"])
    query = embedder.embed_query("Reset a password in the admin console")
    doc_request, query_request = server.successful
    assert doc_request.task_types == ["RETRIEVAL_DOCUMENT", "RETRIEVAL_DOCUMENT"]
    assert query_request.task_types == ["RETRIEVAL_QUERY"]
    assert doc_request.model == "gemini-embedding-001"
    assert doc_request.api_key == KEY
    assert query.shape == (768,)
    assert float(documents[0] @ query) > 0.99
    assert float(documents[1] @ query) < float(documents[0] @ query)


def test_output_dimensionality_is_sent_and_honoured(server: FakeGeminiServer) -> None:
    rag = RAGConfig(embedding_model="gemini-embedding-001", embedding_dimensions=1536)
    embedder = embedder_for(server, rag)
    assert embedder.model_id == "gemini-embedding-001@1536"
    vectors = embedder.embed_documents(texts(3))
    query = embedder.embed_query("service 2")
    assert vectors.shape == (3, 1536)
    assert query.shape == (1536,)
    assert {dim for request in server.successful for dim in request.dimensions} == {1536}
    raw = httpx.post(
        f"{server.base_url}/v1beta/models/gemini-embedding-001:batchEmbedContents",
        headers={"x-goog-api-key": KEY},
        json={"requests": [{"model": "models/gemini-embedding-001", "content": {"parts": [{"text": texts(3)[0]}]}}]},
    ).json()
    unnormalised = np.asarray(raw["embeddings"][0]["values"])
    assert abs(np.linalg.norm(unnormalised) - 1.0) > 0.5  # the service's raw vectors are not unit length


def test_injected_429s_and_503_are_retried_until_success(server: FakeGeminiServer) -> None:
    embedder = embedder_for(server, max_retries=4)
    server.configure(schedule=[429, 429, 503])
    vectors = embedder.embed_documents(texts(120))
    assert vectors.shape == (120, 768)
    assert [r.status for r in server.requests] == [429, 429, 503, 200, 200]
    assert embedder.calls == 2
    assert server.texts_per_call == [100, 20]


def test_random_429s_do_not_change_the_result(server: FakeGeminiServer) -> None:
    rag = RAGConfig(embedding_model="gemini-embedding-001", embedding_batch_size=25)
    clean = embedder_for(server, rag).embed_documents(texts(300))
    server.configure(fail_rate=0.4)
    flaky_embedder = embedder_for(server, rag, max_retries=10)
    flaky = flaky_embedder.embed_documents(texts(300))
    assert sum(r.status == 429 for r in server.requests) >= 3
    np.testing.assert_array_equal(clean, flaky)
    assert flaky_embedder.calls == 12
    assert server.texts_per_call == [25] * 24


def test_persistent_500s_fail_after_the_retry_budget(server: FakeGeminiServer) -> None:
    server.configure(always_status=500)
    embedder = embedder_for(server, max_retries=3)
    with pytest.raises(EmbeddingUnavailableError) as caught:
        embedder.embed_documents(texts(5))
    assert server.attempts == 4
    message = str(caught.value)
    assert "customer 'acme'" in message
    assert "4 attempts" in message
    assert "HTTP 500" in message
    assert embedder.calls == 0


def test_a_slow_server_trips_the_timeout_on_every_attempt() -> None:
    with FakeGeminiServer(api_key=KEY, delay_s=5.0) as slow:
        embedder = embedder_for(slow, timeout_s=0.3, max_retries=1)
        with pytest.raises(EmbeddingUnavailableError, match=r"did not answer within 0.3 s on any of 2 attempts"):
            embedder.embed_documents(texts(2))
        assert slow.attempts == 2
        assert embedder.calls == 0


def test_rejected_key_is_permanent_and_not_retried(server: FakeGeminiServer) -> None:
    embedder = get_embedder(GEMINI, api_key="wrong", base_url=server.base_url, customer_id="acme", max_retries=5)
    with pytest.raises(EmbeddingError) as caught:
        embedder.embed_query("anything")
    assert server.attempts == 1
    assert "customer 'acme'" in str(caught.value)
    assert "API key not valid" in str(caught.value)
    assert "wrong" not in str(caught.value)


def test_missing_key_is_a_clear_error_before_any_request(server: FakeGeminiServer) -> None:
    with pytest.raises(EmbeddingError, match=r"customer 'globex'.*no API key.*'google_genai_default'.*GOOGLE_API_KEY"):
        get_embedder(GEMINI, base_url=server.base_url, customer_id="globex")
    assert server.attempts == 0


def test_key_and_url_from_the_environment(server: FakeGeminiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_GOOGLE_GENAI_DEFAULT", json.dumps({"conn_type": "generic", "password": KEY}))
    monkeypatch.setenv("TENANT_RAG_GEMINI_BASE_URL", server.base_url)
    embedder = get_embedder(GEMINI, customer_id="acme", max_retries=0)
    assert embedder.embed_query("hello").shape == (768,)
    monkeypatch.delenv("AIRFLOW_CONN_GOOGLE_GENAI_DEFAULT")
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    assert get_embedder(GEMINI, customer_id="acme").embed_documents(["x"]).shape == (1, 768)
    assert [r.api_key for r in server.successful] == [KEY, KEY]


def test_unreachable_service_is_reported_as_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    embedder = get_embedder(
        GEMINI,
        api_key=KEY,
        base_url=f"http://127.0.0.1:{port}",
        customer_id="acme",
        max_retries=1,
        retry_initial_delay_s=0.01,
    )
    with pytest.raises(EmbeddingUnavailableError, match=r"cannot reach http://127.0.0.1:\d+ after 2 attempts"):
        embedder.embed_documents(["x"])


def test_fake_server_enforces_the_protocol() -> None:
    with running_fake_gemini(api_key=KEY) as base_url:
        url = f"{base_url}/v1beta/models/gemini-embedding-001"
        item = {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "a"}]}}
        too_many = httpx.post(
            f"{url}:batchEmbedContents", headers={"x-goog-api-key": KEY}, json={"requests": [item] * 101}
        )
        assert too_many.status_code == 400
        assert too_many.json()["error"]["status"] == "INVALID_ARGUMENT"
        wrong_model = httpx.post(
            f"{url}:batchEmbedContents", params={"key": KEY}, json={"requests": [{**item, "model": "models/other"}]}
        )
        assert wrong_model.status_code == 400
        single = httpx.post(
            f"{url}:embedContent", headers={"x-goog-api-key": KEY}, json={**item, "outputDimensionality": 8}
        )
        assert single.status_code == 200
        assert len(single.json()["embedding"]["values"]) == 8
        assert httpx.post(f"{base_url}/v1beta/models/x:generateContent", json={}).status_code == 404
