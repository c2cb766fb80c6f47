"""Index management: trigger through a fake Airflow /api/v2 (real HTTP), read runs, bulk re-index, drop an index."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from pydantic import SecretStr

from tenant_rag.naming import dag_id_for, generate_collection_name
from tenant_rag.runs.record import RunCounts, RunSummary
from tenant_rag.state import append_run, update_state
from tests.integration.api.api_support import KAFKA, build_index, client, free_socket, make_customer, running_api
from tests.integration.api.conftest import ApiEnv, api_settings
from tests.integration.api.fake_airflow import fake_airflow


def test_trigger_passes_params_and_returns_the_run_id(api_env: ApiEnv) -> None:
    fake = api_env.airflow
    with client(api_env.base_url, api_env.key("acme")) as http:
        response = http.post("/v1/customers/acme/index", json={"full_refresh": True, "space_keys": ["ENG"]})
    assert response.status_code == 202, response.text
    run = response.json()
    assert run["customer_id"] == "acme" and run["dag_id"] == "tenant_rag__acme"
    assert run["state"] == "queued" and run["run_id"].startswith("manual__")
    method, path, body = next(c for c in reversed(fake.calls) if c[1].endswith("/dagRuns"))
    assert (method, path) == ("POST", "/api/v2/dags/tenant_rag__acme/dagRuns")
    assert body is not None and body["logical_date"] is None
    assert body["conf"] == {"full_refresh": True, "dry_run": False, "space_keys": ["ENG"]}
    assert any(c[1] == "/auth/token" and c[2] == {"username": "admin", "password": "s3cret"} for c in fake.calls)


def test_run_state_is_read_back_with_recorded_stats(api_env: ApiEnv) -> None:
    with client(api_env.base_url, api_env.key("acme")) as http:
        run_id = http.post("/v1/customers/acme/index", json={"dry_run": True}).json()["run_id"]
        queued = http.get(f"/v1/customers/acme/index/{run_id}")
        api_env.airflow.set_state("tenant_rag__acme", run_id, "success")
        run = RunSummary(run_id=run_id, status="dry_run", dry_run=True, counts=RunCounts(pages_unchanged=4))
        update_state(
            api_env.customers_dir / "acme",
            lambda s: s.model_copy(update={"run_history": append_run(s.run_history, run)}),
        )
        done = http.get(f"/v1/customers/acme/index/{run_id}")
        missing = http.get("/v1/customers/acme/index/manual__1999-01-01T00:00:00+00:00")
        bad_id = http.get("/v1/customers/acme/index/has%20space")
    assert queued.status_code == 200 and queued.json()["state"] == "queued" and queued.json()["stats"] is None
    assert queued.json()["conf"] == {"full_refresh": False, "dry_run": True}
    assert done.status_code == 200 and done.json()["state"] == "success"
    assert done.json()["stats"]["counts"]["pages_unchanged"] == 4 and done.json()["stats"]["run_id"] == run_id
    assert missing.status_code == 404 and missing.json()["error"] == "run_not_found"
    assert bad_id.status_code == 422


def test_expired_token_is_refreshed_once(api_env: ApiEnv) -> None:
    fake = api_env.airflow
    with client(api_env.base_url, api_env.key("globex")) as http:
        assert http.post("/v1/customers/globex/index", json={}).status_code == 202
        before = fake.token_requests
        assert http.post("/v1/customers/globex/index", json={}).status_code == 202
        assert fake.token_requests == before, "a valid token is reused, not fetched per call"
        fake.expire_all_tokens()
        response = http.post("/v1/customers/globex/index", json={})
    assert response.status_code == 202, response.text
    assert fake.token_requests == before + 1


@pytest.mark.parametrize(
    ("body", "hint"),
    [
        ({"full_refresh": "yes"}, "full_refresh"),
        ({"dry_run": 1}, "dry_run"),
        ({"space_keys": ["NOPE"]}, "not configured"),
        ({"space_keys": []}, "space_keys"),
        ({"force": True}, "force"),
    ],
)
def test_bad_trigger_bodies(api_env: ApiEnv, body: dict, hint: str) -> None:
    calls = len(api_env.airflow.calls)
    with client(api_env.base_url, api_env.key("acme")) as http:
        response = http.post("/v1/customers/acme/index", json=body)
    assert response.status_code == 422
    assert hint in response.text
    assert len(api_env.airflow.calls) == calls, "a refused request must not reach Airflow"


def test_dag_unknown_to_airflow_is_409(api_env: ApiEnv) -> None:
    api_env.airflow.dags.discard(dag_id_for("initech"))
    try:
        with client(api_env.base_url, api_env.key("initech")) as http:
            response = http.post("/v1/customers/initech/index", json={})
    finally:
        api_env.airflow.dags.add(dag_id_for("initech"))
    assert response.status_code == 409
    assert response.json()["error"] == "dag_not_found"


def test_bulk_reindex_all_or_some(api_env: ApiEnv) -> None:
    with client(api_env.base_url, api_env.keys.admin) as http:
        everyone = http.post("/v1/index", json={"full_refresh": True})
        some = http.post("/v1/index", json={"customer_ids": ["acme", "nosuchcustomer"]})
        empty = http.post("/v1/index", json={"customer_ids": []})
        bad = http.post("/v1/index", json={"customer_ids": ["../etc"]})
        metrics = http.get("/metrics").text
    assert everyone.status_code == 202
    assert everyone.json()["triggered"] == 3 and everyone.json()["failed"] == 0
    assert [r["customer_id"] for r in everyone.json()["results"]] == ["acme", "globex", "initech"]
    assert all(r["run_id"] for r in everyone.json()["results"])
    assert some.json()["triggered"] == 1 and some.json()["failed"] == 1
    assert some.json()["results"][1] == {
        "customer_id": "nosuchcustomer",
        "run_id": None,
        "state": None,
        "error": "customer not found",
    }
    assert empty.status_code == 422 and bad.status_code == 422
    assert 'tenant_rag_index_triggers_total{customer_id="globex",outcome="queued"}' in metrics


def test_airflow_unreachable_or_refusing_credentials(api_env: ApiEnv, tmp_path: Path) -> None:
    closed = free_socket()  # bound but never listening: connections are refused
    admin_file = tmp_path / "admin.json"
    with fake_airflow(dags={dag_id_for("acme")}) as other:
        base = api_settings(api_env.customers_dir, api_env.database_url, admin_file, other)
        cases = [
            (base.model_copy(update={"airflow_password": SecretStr("wrong")}), 502, "airflow_auth"),
            (base.model_copy(update={"airflow_username": None}), 502, "airflow_auth"),
            (
                base.model_copy(update={"airflow_base_url": f"http://127.0.0.1:{closed.getsockname()[1]}"}),
                503,
                "airflow_unavailable",
            ),
        ]
        for settings, status, code in cases:
            with running_api(settings) as base_url, client(base_url, api_env.key("acme")) as http:
                response = http.post("/v1/customers/acme/index", json={})
                run = http.get("/v1/customers/acme/index/manual__x")
            assert (response.status_code, response.json()["error"]) == (status, code), response.text
            assert (run.status_code, run.json()["error"]) == (status, code)
    closed.close()


def test_delete_index_needs_admin_and_confirmation(api_env: ApiEnv) -> None:
    make_customer(api_env.customers_dir, "umbrella", {"ENG": KAFKA})
    build_index(api_env.customers_dir, "umbrella", api_env.database_url)
    with client(api_env.base_url, api_env.keys.admin) as http:
        assert http.post("/v1/customers/umbrella/query", json={"question": "kafka"}).status_code == 200
        missing = http.delete("/v1/customers/umbrella/index")
        wrong = http.delete("/v1/customers/umbrella/index?confirm=acme")
        unknown = http.delete("/v1/customers/nosuchcustomer/index?confirm=nosuchcustomer")
        done = http.delete("/v1/customers/umbrella/index?confirm=umbrella")
        status = http.get("/v1/customers/umbrella/status").json()
        query = http.post("/v1/customers/umbrella/query", json={"question": "kafka"})
    assert missing.status_code == 400 and missing.json()["error"] == "confirmation_required"
    assert wrong.status_code == 400
    assert unknown.status_code == 404
    assert done.status_code == 200 and done.json() == {
        "customer_id": "umbrella",
        "deleted": True,
        "status": "never_built",
    }
    assert status["status"] == "never_built" and status["is_ready_for_queries"] is False
    assert query.status_code == 409
    with psycopg.connect(api_env.database_url) as conn:
        row = conn.execute(
            "SELECT 1 FROM pg_namespace WHERE nspname = %s", (generate_collection_name("umbrella"),)
        ).fetchone()
    assert row is None
