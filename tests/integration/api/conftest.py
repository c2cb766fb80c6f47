"""Fixtures of the API tests: one database and three customers per module (two built, one never built), their
keys, a fake Airflow REST server and the API itself on uvicorn, all on 127.0.0.1."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import psycopg
import pytest
from psycopg import sql

from tenant_rag.api.settings import ApiSettings
from tenant_rag.db import close_pools
from tenant_rag.manager import RAGFactory
from tenant_rag.naming import dag_id_for
from tests.integration.api.api_support import GARDEN, KAFKA, Keys, build_index, make_customer, make_keys, running_api
from tests.integration.api.fake_airflow import FakeAirflow, fake_airflow

_counter = itertools.count()


@pytest.fixture(scope="module")
def module_db(pg_server_url: str) -> Iterator[str]:
    """A fresh database (with pgvector) shared by the tests of one module; dropped afterwards."""
    name = f"api_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = urlparse(pg_server_url)._replace(path=f"/{name}").geturl()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    try:
        yield url
    finally:
        RAGFactory.clear()
        close_pools()
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@dataclass
class ApiEnv:
    base_url: str
    customers_dir: Path
    database_url: str
    keys: Keys
    settings: ApiSettings
    airflow: FakeAirflow

    def key(self, customer_id: str) -> str:
        return self.keys.customers[customer_id]


def api_settings(customers_dir: Path, database_url: str, admin_file: Path, airflow: FakeAirflow) -> ApiSettings:
    return ApiSettings(
        customers_dir=customers_dir,
        database_url=database_url,
        admin_key_file=admin_file,
        airflow_base_url=airflow.base_url,
        airflow_username=airflow.username,
        airflow_password=airflow.password,
        index_stats_ttl_seconds=0,
        max_question_chars=500,
        max_top_k=10,
    )


@pytest.fixture(scope="module")
def api_env(module_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    root = tmp_path_factory.mktemp("api")
    customers_dir = root / "customers"
    make_customer(customers_dir, "acme", {"ENG": KAFKA})
    make_customer(customers_dir, "globex", {"GARDEN": GARDEN})
    make_customer(customers_dir, "initech", {"DOCS": {"d1": ("TPS reports", "Every TPS report needs a cover.")}})
    build_index(customers_dir, "acme", module_db)
    build_index(customers_dir, "globex", module_db)
    keys = make_keys(customers_dir, root / "admin_key.json", ["acme", "globex", "initech"])
    with fake_airflow(dags={dag_id_for("acme"), dag_id_for("globex"), dag_id_for("initech")}) as airflow:
        settings = api_settings(customers_dir, module_db, root / "admin_key.json", airflow)
        with running_api(settings) as base_url:
            yield ApiEnv(base_url, customers_dir, module_db, keys, settings, airflow)
