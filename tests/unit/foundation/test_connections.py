"""``AIRFLOW_CONN_*`` values parsed once, and the database URL and Gemini credentials the library derives from them."""

from __future__ import annotations

import json

import pytest

from tenant_rag.connections import ConnectionEnvError, ConnectionFields, connection_from_env, parse_connection
from tenant_rag.dsn import database_url, resolve_database_url
from tenant_rag.embedding.factory import gemini_credentials
from tenant_rag.errors import PermanentError


def test_json_and_uri_forms_give_the_same_fields() -> None:
    as_json = json.dumps(
        {
            "conn_type": "postgres",
            "host": "db.example",
            "login": "indexer",
            "password": "p@ss/word",
            "schema": "rag",
            "port": 5433,
            "extra": {"sslmode": "require"},
        }
    )
    as_uri = "postgresql://indexer:p%40ss%2Fword@db.example:5433/rag?sslmode=require"
    assert parse_connection(as_json, name="A") == parse_connection(as_uri, name="B")
    assert database_url(parse_connection(as_uri, name="B")) == (
        "postgresql://indexer:p%40ss%2Fword@db.example:5433/rag?sslmode=require"
    )


def test_a_quoted_socket_directory_keeps_its_slashes_and_case() -> None:
    conn = parse_connection("postgres://me@%2Ftmp%2FPgSock/app", name="A")
    assert (conn.host, conn.login, conn.schema, conn.port) == ("/tmp/PgSock", "me", "app", None)
    assert database_url(conn) == "postgresql://me@/app?host=%2Ftmp%2FPgSock"
    assert database_url(conn, database="other") == "postgresql://me@/other?host=%2Ftmp%2FPgSock"


def test_extra_as_a_json_string_a_query_or_airflows_extra_parameter() -> None:
    as_string = parse_connection(json.dumps({"conn_type": "generic", "extra": '{"api_key": "k"}'}), name="A")
    assert as_string.extra_dejson == {"api_key": "k"}
    query = parse_connection("google-genai://?base_url=http%3A%2F%2Fproxy%3A8080", name="A")
    assert (query.conn_type, query.extra_dejson) == ("google_genai", {"base_url": "http://proxy:8080"})
    wrapped = parse_connection("generic://h?__extra__=" + "%7B%22a%22%3A+%5B1%5D%7D", name="A")
    assert wrapped.extra_dejson == {"a": [1]}


@pytest.mark.parametrize(
    "value",
    ['{"host": ', "[1, 2]", "not a connection", '{"extra": "{oops"}', '{"port": "5x"}', "postgres://h:port/db"],
)
def test_a_malformed_variable_is_a_permanent_error_that_never_shows_its_value(value: str) -> None:
    with pytest.raises(ConnectionEnvError) as caught:
        parse_connection(value, name="AIRFLOW_CONN_X")
    assert isinstance(caught.value, PermanentError)
    assert "AIRFLOW_CONN_X" in str(caught.value)
    assert value not in str(caught.value)


def test_the_password_stays_out_of_repr() -> None:
    conn = parse_connection("postgres://u:hunter2@h/db", name="A")
    assert "hunter2" not in repr(conn)
    assert "hunter2" not in repr(gemini_credentials(conn))


def test_from_env_and_database_url_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_NOT_SET", raising=False)
    assert connection_from_env("not_set") is None
    monkeypatch.setenv("AIRFLOW_CONN_SOME_DB", json.dumps({"conn_type": "postgres", "host": "h", "schema": "d"}))
    assert resolve_database_url("some_db", start_embedded=False) == "postgresql://h/d"
    monkeypatch.setenv("AIRFLOW_CONN_SOME_DB", "mysql://h/d")
    with pytest.raises(ConnectionEnvError):
        resolve_database_url("some_db", start_embedded=False)


def test_gemini_credentials_prefer_the_connection_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GOOGLE_API_KEY", "GEMINI_API_KEY", "TENANT_RAG_GEMINI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    assert gemini_credentials(None) == gemini_credentials(ConnectionFields())
    assert (gemini_credentials(None).api_key, gemini_credentials(None).base_url) == (None, None)
    monkeypatch.setenv("GEMINI_API_KEY", "env-key")
    monkeypatch.setenv("TENANT_RAG_GEMINI_BASE_URL", "http://env.example")
    found = gemini_credentials(None)
    assert (found.api_key, found.base_url) == ("env-key", "http://env.example")
    found = gemini_credentials(ConnectionFields(password="pw", host="http://host.example"))
    assert (found.api_key, found.base_url) == ("pw", "http://host.example")
    found = gemini_credentials(ConnectionFields(host="not-a-url", extra={"api_key": "x", "base_url": "http://e"}))
    assert (found.api_key, found.base_url) == ("x", "http://e")
    found = gemini_credentials(ConnectionFields(host="not-a-url"))
    assert (found.api_key, found.base_url) == ("env-key", "http://env.example")
