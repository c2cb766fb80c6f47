"""The ``make ui`` instance is reachable by the ``airflow`` CLI, and its services start in a safe order.

``write_config`` writes the instance's airflow.cfg (no secrets) and its 0600 env file; the README's ``airflow``
commands then run through ``python -m tenant_rag_devtools airflow`` (what ``make airflow ARGS=...`` runs) against real
Airflow services on a metadata database on the embedded PostgreSQL. The services are started with the function
``make ui`` uses: the URL and login are announced only once the api-server's health endpoint answers, and the
scheduler and dag-processor start only after that. No SQLite file appears anywhere.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tenant_rag.config import CustomerConfig
from tenant_rag.customers import CustomerManager
from tenant_rag_devtools.airflow_ui import AirflowServices, api_server_healthy
from tenant_rag_devtools.airflow_ui_config import GENERATED, write_config
from tests.fixtures.airflow_metadata import create_metadata_database, drop_database
from tests.integration.airflow.airflow_stack import ROOT, free_port, wait_for

pytestmark = [pytest.mark.scheduler, pytest.mark.slow]
DAG_ID = "tenant_rag__acme"
CONFLUENCE_TOKEN = "confluence-token-not-for-files"
UI_PASSWORD = "ui-login-not-for-files"
NEW_TOKEN = "acme-api-token-7f3e"


@pytest.fixture
def metadata_url(pg_server_url: str, airflow_metadata_template: str) -> Iterator[str]:
    """The instance's metadata database: a copy of the session's migrated one (``airflow db migrate`` of an empty
    database is what that fixture runs; here ``db migrate`` through the instance's CLI must find it current)."""
    name = f"ui_meta_{os.getpid()}"
    yield create_metadata_database(pg_server_url, name, airflow_metadata_template)
    drop_database(pg_server_url, name)


def _clean_env(run_dir: Path) -> dict[str, str]:
    """The caller's environment without any Airflow or database setting: only the files may configure Airflow."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "TENANT_RAG_")) and k not in ("PYTHONPATH",)
    }
    env["TENANT_RAG_RUN_DIR"] = str(run_dir)
    env["PYTHONPATH"] = str(ROOT / "include")
    return env


def _sqlite_files(*folders: Path) -> list[Path]:
    found = []
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file() and not path.is_symlink():
                with path.open("rb") as handle:
                    if handle.read(16) == b"SQLite format 3\x00":
                        found.append(path)
    return found


def _json_rows(output: str) -> list[dict[str, str]]:
    """The JSON array of ``-o json`` (Airflow may log lines to stdout before it)."""
    start = next(i for i, line in enumerate(output.splitlines()) if line.startswith("["))
    return list(json.loads("\n".join(output.splitlines()[start:])))


def test_make_ui_config_serves_the_airflow_cli_and_starts_in_order(
    metadata_url: str, pg_url: str, customers_dir: Path, tmp_path: Path
) -> None:
    run_dir, cwd = tmp_path / "run", tmp_path / "cwd"
    directory = run_dir / "ui"
    cwd.mkdir()
    stray = directory / "airflow" / "airflow.db"  # what an airflow command left before airflow.cfg existed
    stray.parent.mkdir(parents=True)
    sqlite3.connect(stray).execute("CREATE TABLE t (x)").connection.close()
    config = CustomerConfig.model_validate(
        {
            "customer_id": "acme",
            "display_name": "Acme",
            "paused": True,
            "retries": 0,
            "schedule": "@daily",
            "start_date": "2026-03-01T00:00:00+00:00",
            "export": {
                "source": "confluence",
                "base_url": "http://127.0.0.1:9/wiki",
                "conn_id": "confluence_acme",
                "space_keys": ["ENG"],
            },
        }
    )
    CustomerManager(customers_dir).create(config)
    port = free_port()
    ui = write_config(
        directory,
        metadata_url=metadata_url,
        database_url=pg_url,
        confluence_url="http://127.0.0.1:9/wiki",
        confluence_user=("bot@example.com", CONFLUENCE_TOKEN),
        customers_dir=customers_dir,
        password=UI_PASSWORD,
        port=port,
    )

    # no secret in airflow.cfg; all of them in the owner-only env file
    assert ui.env_file.stat().st_mode & 0o777 == 0o600
    cfg = ui.config_file.read_text(encoding="utf-8")
    env_text = ui.env_file.read_text(encoding="utf-8")
    for secret in [CONFLUENCE_TOKEN, UI_PASSWORD, *(ui.env[key] for key in GENERATED)]:
        assert secret not in cfg and secret in env_text
    assert not stray.exists()

    base_env = _clean_env(run_dir)

    def cli(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "tenant_rag_devtools", "airflow", *args],
            check=False,
            env=base_env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, f"airflow {' '.join(args)}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        return result.stdout

    core = cli("config", "list", "--section", "core", "--show-values")  # one CLI start for three settings
    assert f"dags_folder = {ROOT / 'dags'}\n" in core
    assert "load_examples = False\n" in core and "executor = LocalExecutor\n" in core
    # airflow.cfg on its own (AIRFLOW_HOME only, no env file) already reaches the embedded metadata database
    plain = subprocess.run(
        [sys.executable, "-m", "airflow", "config", "get-value", "database", "sql_alchemy_conn"],
        env={**base_env, "AIRFLOW_HOME": str(ui.airflow_home)},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert plain.stdout.strip().startswith("postgresql+psycopg://postgres@/ui_meta_")
    cli("db", "migrate")

    services = AirflowServices({**base_env, **ui.env}, directory / "logs", ui.base_url, port)
    healthy_when_announced: list[bool] = []

    def announce() -> None:
        healthy_when_announced.append(api_server_healthy(ui.base_url))

    try:
        services.start(announce, health_timeout=300)
        assert services.events == [
            "started api-server",
            "api-server healthy",
            "started scheduler",
            "started dag-processor",
            "announced",
        ]
        assert healthy_when_announced == [True]

        # the README's commands, against the running instance
        def parsed() -> bool:  # polled in the metadata database: a CLI start per poll would cost seconds of CPU
            with psycopg.connect(metadata_url) as conn:
                return conn.execute("SELECT 1 FROM dag WHERE dag_id = %s", (DAG_ID,)).fetchone() is not None

        wait_for(f"{DAG_ID} parsed by the dag-processor", parsed, timeout=240, interval=2)
        assert DAG_ID in {d["dag_id"] for d in _json_rows(cli("dags", "list", "-o", "json"))}
        cli(
            "connections", "add", "confluence_acme", "--conn-type", "confluence",
            "--conn-host", "https://acme.atlassian.net/wiki", "--conn-login", "me@acme.com",
            "--conn-password", NEW_TOKEN,
        )  # fmt: skip
        with psycopg.connect(metadata_url) as conn:
            row = conn.execute("SELECT password, is_encrypted FROM connection WHERE conn_id = 'confluence_acme'")
            stored, encrypted = row.fetchone() or (None, None)
        assert encrypted is True and stored and NEW_TOKEN not in stored  # the instance's Fernet key was used
        cli("dags", "trigger", DAG_ID, "--conf", '{"dry_run": true}')
        cli("backfill", "create", "--dag-id", DAG_ID, "--from-date", "2026-03-01", "--to-date", "2026-03-02")
        runs = _json_rows(cli("dags", "list-runs", DAG_ID, "-o", "json"))
        assert {r["run_id"].split("__")[0] for r in runs} >= {"manual", "backfill"}, runs
    except BaseException:
        for log in sorted((directory / "logs").glob("*.log")):
            print(f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-40:]))
        raise
    finally:
        services.stop()
    assert services.all_stopped()
    assert _sqlite_files(run_dir, cwd) == []
