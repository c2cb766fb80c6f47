"""Fixtures of the API tests: one database and three customers per module (two built, one never built), their
keys, a fake Airflow REST server and the API itself on uvicorn, all on 127.0.0.1."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tenant_rag.api.settings import ApiSettings
from tenant_rag.naming import dag_id_for
from tests.integration.api.api_support import GARDEN, KAFKA, Keys, build_index, make_customer, make_keys, running_api
from tests.integration.api.fake_airflow import FakeAirflow, fake_airflow

_counter = itertools.count()


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
def api_env(module_pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    root = tmp_path_factory.mktemp("api")
    customers_dir = root / "customers"
    make_customer(customers_dir, "acme", {"ENG": KAFKA})
    make_customer(customers_dir, "globex", {"GARDEN": GARDEN})
    make_customer(customers_dir, "initech", {"DOCS": {"d1": ("TPS reports", "Every TPS report needs a cover.")}})
    build_index(customers_dir, "acme", module_pg_url)
    build_index(customers_dir, "globex", module_pg_url)
    keys = make_keys(customers_dir, root / "admin_key.json", ["acme", "globex", "initech"])
    with fake_airflow(dags={dag_id_for("acme"), dag_id_for("globex"), dag_id_for("initech")}) as airflow:
        settings = api_settings(customers_dir, module_pg_url, root / "admin_key.json", airflow)
        with running_api(settings) as base_url:
            yield ApiEnv(base_url, customers_dir, module_pg_url, keys, settings, airflow)
