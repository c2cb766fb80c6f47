"""Hooks resolve Airflow Connections from ``AIRFLOW_CONN_*`` variables, the way a task sees them."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from tenant_rag_airflow.hooks.confluence import ConfluenceConnectionError, ConfluenceHook
from tenant_rag_airflow.hooks.gemini import GeminiHook, MissingApiKeyError
from tenant_rag_airflow.hooks.tenant_db import TenantRagDbHook
from tenant_rag_airflow.operators.base import is_permanent
from tests.dags.sample_sites import CONFLUENCE_USER


def test_confluence_cloud_basic_auth_with_the_base_url_in_host(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "confluence", "host": "https://acme.atlassian.net/wiki/", "login": "a@b.c", "password": "t0k"}
    monkeypatch.setenv("AIRFLOW_CONN_CONFLUENCE_DEFAULT", json.dumps(conn))
    hook = ConfluenceHook()
    assert hook.base_url == "https://acme.atlassian.net/wiki"
    assert hook.auth_mode == "basic"
    creds = hook.get_conn()
    assert (creds.username, creds.api_token, creds.bearer_token) == ("a@b.c", "t0k", None)


def test_confluence_server_pat_is_bearer_and_url_built_from_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_WIKI_DC", "confluence://:my-pat-value@wiki.corp.example:8443/confluence")
    hook = ConfluenceHook("wiki_dc", default_base_url="https://unused.example")
    assert hook.base_url == "https://wiki.corp.example:8443/confluence"
    assert hook.auth_mode == "bearer"
    assert hook.get_conn().bearer_token == "my-pat-value"


def test_confluence_falls_back_to_the_config_url_and_rejects_bad_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "confluence", "password": "x", "extra": {"auth": "kerberos"}}
    monkeypatch.setenv("AIRFLOW_CONN_CONFLUENCE_DEFAULT", json.dumps(conn))
    hook = ConfluenceHook(default_base_url="https://from-config.example/wiki")
    assert hook.base_url == "https://from-config.example/wiki"
    with pytest.raises(ConfluenceConnectionError, match=r"extra\.auth is 'kerberos'; use one of basic, bearer"):
        hook.get_conn()
    assert hook.test_connection() == (
        False,
        "connection 'confluence_default': extra.auth is 'kerberos'; use one of basic, bearer",
    )
    monkeypatch.setenv("AIRFLOW_CONN_CONFLUENCE_DEFAULT", json.dumps({"conn_type": "confluence", "login": "a@b.c"}))
    with pytest.raises(ConfluenceConnectionError, match="has no password"):
        ConfluenceHook().get_conn()
    basic = {"conn_type": "confluence", "password": "s3cret", "extra": {"auth": "basic"}}
    monkeypatch.setenv("AIRFLOW_CONN_CONFLUENCE_DEFAULT", json.dumps(basic))
    with pytest.raises(ConfluenceConnectionError, match="needs the account e-mail as login") as excinfo:
        ConfluenceHook().get_conn()
    assert "s3cret" not in str(excinfo.value)
    # configuration errors are permanent: the operators fail the task at once instead of retrying
    assert is_permanent(excinfo.value) and isinstance(excinfo.value, ValueError)


def test_confluence_test_connection_against_the_local_site(confluence: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ok, message = ConfluenceHook().test_connection()
    assert ok, message
    wrong = {"conn_type": "confluence", "host": confluence.url, "login": CONFLUENCE_USER[0], "password": "wrong"}
    monkeypatch.setenv("AIRFLOW_CONN_CONFLUENCE_DEFAULT", json.dumps(wrong))
    ok, message = ConfluenceHook().test_connection()
    assert not ok and "401" in message


def test_hooks_declare_their_connection_attributes() -> None:
    """The Connections form's labels for ``confluence`` and ``google_genai`` come from provider info
    (tests/dags/test_provider_info.py); the tenant database is a ``postgres`` Connection labelled by its hook."""
    for hook in (ConfluenceHook, GeminiHook, TenantRagDbHook):
        assert hook.conn_name_attr and hook.default_conn_name and hook.conn_type and hook.hook_name
    assert set(TenantRagDbHook.get_ui_field_behaviour()) >= {"hidden_fields", "relabeling"}


def test_gemini_key_from_connection_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_GOOGLE_GENAI_DEFAULT", raising=False)
    with pytest.raises(MissingApiKeyError, match="google_genai_default"):
        _ = GeminiHook().api_key
    monkeypatch.setenv("GOOGLE_API_KEY", "env-key")
    assert GeminiHook().api_key == "env-key" and GeminiHook().base_url is None
    conn = {"conn_type": "google_genai", "password": "conn-key", "host": "http://127.0.0.1:9/"}
    monkeypatch.setenv("AIRFLOW_CONN_GOOGLE_GENAI_DEFAULT", json.dumps(conn))
    hook = GeminiHook()
    assert hook.get_conn() == "conn-key" and hook.base_url == "http://127.0.0.1:9/"


def test_tenant_db_hook_gives_a_libpq_url_for_a_socket_connection(pg_url: str) -> None:
    hook = TenantRagDbHook()
    url = hook.get_database_url()
    assert url.startswith("postgresql://") and "host=%2F" in url
    with psycopg.connect(url) as conn:
        assert (
            conn.execute("SELECT current_database()").fetchone()[0]
            == psycopg.conninfo.conninfo_to_dict(pg_url)["dbname"]
        )
    assert hook.has_pgvector()
