"""Status endpoints, the customer list, health/readiness and the Prometheus metrics after real queries."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tenant_rag.api.app import create_app
from tenant_rag.api.settings import ApiSettings
from tenant_rag.state import load_state
from tests.integration.api.api_support import client, running_api
from tests.integration.api.conftest import ApiEnv


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(metrics: dict, name: str, **labels: str) -> float:
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


def test_status_reports_state_run_and_index_size(api_env: ApiEnv) -> None:
    with client(api_env.base_url, api_env.key("acme")) as http:
        response = http.get("/v1/customers/acme/status")
    assert response.status_code == 200
    status = response.json()
    state = load_state(api_env.customers_dir / "acme")
    assert status["customer_id"] == "acme" and status["display_name"] == "Acme Inc."
    assert status["dag_id"] == "tenant_rag__acme"
    assert status["status"] == "ready" and status["is_ready_for_queries"] is True
    assert status["embedding_model"] == "wordllama-l2-256" and status["embedding_dimensions"] == 256
    assert status["total_indexed_documents"] == state.total_indexed_documents == 4
    assert status["index"]["pages"] == 4 and status["index"]["chunks"] == state.total_indexed_chunks
    assert status["index"]["bytes"] > 0
    assert status["last_run_id"] == state.last_run_id
    assert status["last_run_stats"]["counts"]["pages_added"] == 4
    assert status["run_history"][-1]["status"] == "success"
    assert status["run_history"][-1]["run_id"] == status["last_run_stats"]["run_id"] == state.last_run_id


def test_never_built_customer_status(api_env: ApiEnv) -> None:
    with client(api_env.base_url, api_env.key("initech")) as http:
        status = http.get("/v1/customers/initech/status").json()
    assert status["status"] == "never_built" and status["is_ready_for_queries"] is False
    assert status["index"] == {"pages": 0, "chunks": 0, "bytes": 0}
    assert status["run_history"] == []


def test_customer_list_for_admins(api_env: ApiEnv) -> None:
    with client(api_env.base_url, api_env.keys.admin) as http:
        listing = http.get("/v1/customers").json()["customers"]
    by_id = {c["customer_id"]: c for c in listing}
    assert list(by_id) == ["acme", "globex", "initech"]
    assert by_id["acme"]["is_ready_for_queries"] and by_id["acme"]["total_indexed_documents"] == 4
    assert by_id["globex"]["total_indexed_documents"] == 3
    assert by_id["initech"]["status"] == "never_built"


def test_health_and_readiness(api_env: ApiEnv, tmp_path: Path) -> None:
    with client(api_env.base_url) as http:
        assert http.get("/healthz").json() == {"status": "ok", "detail": None}
        ready = http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ok"
    unreachable = ApiSettings(
        customers_dir=api_env.customers_dir,
        database_url=f"postgresql://postgres@/postgres?host={tmp_path}/nosocket",
        admin_key_file=tmp_path / "admin.json",
    )
    with running_api(unreachable) as base_url, client(base_url) as http:
        assert http.get("/healthz").status_code == 200
        not_ready = http.get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.json()["status"] == "unavailable" and "database" in not_ready.json()["detail"]


def test_no_database_configured_is_a_clear_503_not_an_embedded_one(
    api_env: ApiEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AIRFLOW_CONN_TENANT_RAG_DB", "TENANT_RAG_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TENANT_RAG_RUN_DIR", str(tmp_path / "run"))
    settings = ApiSettings(
        customers_dir=api_env.customers_dir, admin_key_file=api_env.settings.admin_key_file, start_embedded_db=False
    )
    with running_api(settings) as base_url, client(base_url, api_env.key("acme")) as http:
        status = http.get("/v1/customers/acme/status")
        ready = http.get("/readyz")
    assert status.status_code == 503 and status.json()["error"] == "database_not_configured"
    assert "AIRFLOW_CONN_TENANT_RAG_DB" in status.json()["message"]
    assert ready.status_code == 503 and "TENANT_RAG_DATABASE_URL" in ready.json()["detail"]
    assert not (tmp_path / "run" / "pgdata").exists()


def test_metrics_after_queries(api_env: ApiEnv) -> None:
    with client(api_env.base_url, api_env.keys.admin) as admin:
        before = samples(admin.get("/metrics").text)
        with client(api_env.base_url, api_env.key("acme")) as http:
            for question in ("kafka retention", "schema registry", "broker disk"):
                assert http.post("/v1/customers/acme/query", json={"question": question}).status_code == 200
            assert http.post("/v1/customers/acme/query", json={"question": "x", "mode": "lexical"}).status_code == 200
        with client(api_env.base_url, api_env.key("initech")) as http:
            assert http.post("/v1/customers/initech/query", json={"question": "tps"}).status_code == 409
        response = admin.get("/metrics")
        status = admin.get("/v1/customers/acme/status").json()
    assert response.headers["content-type"].startswith("text/plain")
    after = samples(response.text)
    latency_count = "tenant_rag_query_latency_seconds_count"
    assert value(after, latency_count, customer_id="acme") - value(before, latency_count, customer_id="acme") == 4
    assert value(after, "tenant_rag_query_latency_seconds_sum", customer_id="acme") > 0
    assert (
        value(after, "tenant_rag_queries_total", customer_id="acme", mode="hybrid")
        - value(before, "tenant_rag_queries_total", customer_id="acme", mode="hybrid")
        == 3
    )
    assert value(after, "tenant_rag_queries_total", customer_id="acme", mode="lexical") >= 1
    assert value(after, "tenant_rag_query_errors_total", customer_id="initech", reason="index_not_ready") >= 1
    assert value(after, "tenant_rag_index_pages", customer_id="acme") == status["index"]["pages"] == 4
    assert value(after, "tenant_rag_index_chunks", customer_id="acme") == status["index"]["chunks"]
    assert value(after, "tenant_rag_index_bytes", customer_id="acme") == status["index"]["bytes"]
    assert value(after, "tenant_rag_index_ready", customer_id="initech") == 0.0
    state = load_state(api_env.customers_dir / "acme")
    assert state.last_success_time is not None
    assert value(after, "tenant_rag_last_successful_index_timestamp_seconds", customer_id="acme") == (
        state.last_success_time.timestamp()
    )
    requests = value(
        after, "tenant_rag_api_requests_total", method="POST", route="/v1/customers/{customer_id}/query", status="200"
    )
    assert requests >= 4
    # labels never carry raw paths or unknown customers
    assert "nosuchcustomer" not in response.text


def test_metrics_can_be_public_and_registries_are_per_app(api_env: ApiEnv, tmp_path: Path) -> None:
    settings = ApiSettings(
        customers_dir=api_env.customers_dir,
        database_url=api_env.database_url,
        admin_key_file=tmp_path / "a.json",
        metrics_public=True,
    )
    first, second = create_app(settings), create_app(settings)
    assert first.state.services.metrics.registry is not second.state.services.metrics.registry
    with running_api(settings) as base_url, client(base_url) as http:
        response = http.get("/metrics")
    assert response.status_code == 200
    assert 'tenant_rag_index_pages{customer_id="acme"} 4.0' in response.text
