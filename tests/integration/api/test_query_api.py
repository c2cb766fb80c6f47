"""POST /v1/customers/{id}/query: answers from the customer's own index, input limits, history, errors."""

from __future__ import annotations

import socket

import pytest

from tenant_rag.config import load_customer_config
from tenant_rag.query import CustomerQueryManager
from tests.integration.api.api_support import client
from tests.integration.api.conftest import ApiEnv

KAFKA_TITLES = {"Kafka consumer groups", "Kafka retention", "Schema registry", "Broker sizing"}
GARDEN_TITLES = {"Tomato seedlings", "Composting", "Pruning roses"}


def test_query_returns_parent_documents_with_metadata_and_latency(api_env: ApiEnv) -> None:
    with client(api_env.base_url, api_env.key("acme")) as http:
        response = http.post("/v1/customers/acme/query", json={"question": "how long does kafka keep messages?"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["customer_id"] == "acme"
    assert body["top_k"] == 3 and body["mode"] == "hybrid"
    assert body["latency_ms"] > 0
    docs = body["documents"]
    assert len(docs) == 3
    assert docs[0]["title"] == "Kafka retention"
    assert docs[0]["url"] == "https://wiki.example/ENG/k2"
    assert docs[0]["space_key"] == "ENG"
    assert docs[0]["heading_path"] == ["Kafka retention"]
    assert "seven days" in docs[0]["content"]
    assert all(isinstance(d["score"], float) for d in docs)
    assert [d["score"] for d in docs] == sorted((d["score"] for d in docs), reverse=True)
    assert {d["title"] for d in docs} <= KAFKA_TITLES


@pytest.mark.parametrize("mode", ["vector", "lexical", "hybrid"])
def test_each_customer_sees_only_its_own_pages_in_every_mode(api_env: ApiEnv, mode: str) -> None:
    for customer_id, own in (("acme", KAFKA_TITLES), ("globex", GARDEN_TITLES)):
        with client(api_env.base_url, api_env.key(customer_id)) as http:
            for question in ("kafka partitions and offsets", "when to sow tomato seeds"):
                response = http.post(
                    f"/v1/customers/{customer_id}/query", json={"question": question, "top_k": 10, "mode": mode}
                )
                assert response.status_code == 200, response.text
                assert response.json()["mode"] == mode
                titles = {d["title"] for d in response.json()["documents"]}
                assert titles <= own, f"{customer_id} got foreign pages {titles - own}"


def test_top_k_and_space_filter(api_env: ApiEnv) -> None:
    with client(api_env.base_url, api_env.key("acme")) as http:
        four = http.post("/v1/customers/acme/query", json={"question": "kafka", "top_k": 4, "space_keys": ["ENG"]})
        one = http.post("/v1/customers/acme/query", json={"question": "kafka", "top_k": 1, "mode": "vector"})
        other_space = http.post("/v1/customers/acme/query", json={"question": "kafka", "space_keys": ["GARDEN"]})
    assert four.status_code == 200 and len(four.json()["documents"]) == 4
    assert one.status_code == 200 and len(one.json()["documents"]) == 1
    assert other_space.status_code == 422
    assert other_space.json()["error"] == "invalid_request"
    assert "not indexed" in other_space.json()["message"]


def test_query_is_recorded_in_the_customers_history(api_env: ApiEnv) -> None:
    question = "which topic stores committed offsets?"
    with client(api_env.base_url, api_env.key("acme")) as http:
        assert http.post("/v1/customers/acme/query", json={"question": question, "top_k": 2}).status_code == 200
    config = load_customer_config(api_env.customers_dir / "acme" / "config.yaml")
    history = CustomerQueryManager(api_env.database_url).history(config, 5)
    assert history[0]["question"] == question
    assert history[0]["top_k"] == 2
    assert history[0]["latency_ms"] > 0


BAD_BODIES = [
    ({}, "question"),
    ({"question": ""}, "question"),
    ({"question": "   "}, "blank"),
    ({"question": "a" * 501}, "at most 500"),
    ({"question": "a" * 4001}, "question"),
    ({"question": "x\x00y"}, "NUL"),
    ({"question": "ok", "top_k": 0}, "top_k"),
    ({"question": "ok", "top_k": 11}, "at most 10"),
    ({"question": "ok", "top_k": 51}, "top_k"),
    ({"question": "ok", "top_k": "three"}, "top_k"),
    ({"question": "ok", "top_k": True}, "top_k"),
    ({"question": "ok", "mode": "semantic"}, "mode"),
    ({"question": "ok", "space_keys": []}, "space_keys"),
    ({"question": "ok", "space_keys": ["bad key"]}, "space key"),
    ({"question": "ok", "space_keys": ["ENG", "ENG"]}, "repeat"),
    ({"question": "ok", "unexpected": 1}, "unexpected"),
    ({"question": 42}, "question"),
    ([1, 2, 3], "body"),
]


@pytest.mark.parametrize(("body", "hint"), BAD_BODIES, ids=[str(i) for i in range(len(BAD_BODIES))])
def test_bad_query_bodies_are_422_with_a_json_error(api_env: ApiEnv, body: object, hint: str) -> None:
    with client(api_env.base_url, api_env.key("acme")) as http:
        response = http.post("/v1/customers/acme/query", json=body)
    assert response.status_code == 422, response.text
    payload = response.json()
    assert payload["error"] == "invalid_request"
    assert hint.lower() in (payload["message"] + str(payload.get("detail", ""))).lower()


def test_malformed_json_wrong_content_type_and_big_bodies(api_env: ApiEnv) -> None:
    with client(api_env.base_url, api_env.key("acme")) as http:
        broken = http.post(
            "/v1/customers/acme/query", content=b'{"question": "x"', headers={"Content-Type": "application/json"}
        )
        text = http.post("/v1/customers/acme/query", content=b"question=x", headers={"Content-Type": "text/plain"})
        big = http.post("/v1/customers/acme/query", json={"question": "a" * 20_000})
        chunked = http.post(
            "/v1/customers/acme/query",
            content=iter([b'{"question": "', b"a" * 10_000, b"a" * 10_000, b'"}']),
            headers={"Content-Type": "application/json"},
        )
    assert broken.status_code == 422 and broken.json()["error"] == "invalid_request"
    assert text.status_code == 422 and text.json()["error"] == "invalid_request"
    assert big.status_code == 413 and big.json()["error"] == "body_too_large"
    assert chunked.status_code == 413 and chunked.json()["error"] == "body_too_large"


def _raw_request(api_env: ApiEnv, length: bytes) -> str:
    host, port = api_env.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/customers/acme/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"X-API-Key: " + api_env.key("acme").encode() + b"\r\nContent-Length: " + length + b"\r\n\r\n{"
        )
        return sock.recv(4096).decode()


def test_declared_oversize_body_is_refused_before_it_is_sent(api_env: ApiEnv) -> None:
    """A Content-Length over the limit is answered at once: the server never waits for (or parses) the body."""
    reply = _raw_request(api_env, b"999999999")
    assert reply.startswith("HTTP/1.1 413"), reply
    assert "body_too_large" in reply


def test_customer_without_an_index_gets_409_and_the_error_is_counted(api_env: ApiEnv) -> None:
    with client(api_env.base_url, api_env.key("initech")) as http:
        response = http.post("/v1/customers/initech/query", json={"question": "tps report cover"})
    assert response.status_code == 409
    assert response.json() == {"error": "index_not_ready", "message": "the customer's index has not been built yet"}
    with client(api_env.base_url, api_env.keys.admin) as http:
        metrics = http.get("/metrics").text
    assert 'tenant_rag_query_errors_total{customer_id="initech",reason="index_not_ready"}' in metrics


def test_customer_with_an_invalid_config_gets_409(api_env: ApiEnv) -> None:
    with client(api_env.base_url, api_env.key("globex")) as http:
        config_path = api_env.customers_dir / "globex" / "config.yaml"
        original = config_path.read_text()
        config_path.write_text(original + "surprise_field: 1\n")
        try:
            broken = http.post("/v1/customers/globex/query", json={"question": "compost"})
            status = http.get("/v1/customers/globex/status")
        finally:
            config_path.write_text(original)
        fixed = http.post("/v1/customers/globex/query", json={"question": "compost"})
    assert broken.status_code == 409 and broken.json()["error"] == "config_invalid"
    assert status.status_code == 200 and "surprise_field" in status.json()["config_error"]
    assert fixed.status_code == 200
