"""The ``make ui`` Airflow instance's configuration, on disk, so any ``airflow`` command can reach it.

``write_config`` writes two files under ``.run/ui/``:

* ``airflow/airflow.cfg``: every non-secret setting (DAG and plugins folders, the metadata database on the embedded
  PostgreSQL's trust socket, LocalExecutor, ``load_examples = False``, the api-server's URL and port, logs). No
  password, key or connection is in it.
* ``airflow.env`` (mode 0600): ``AIRFLOW_HOME``, ``PYTHONPATH``, the customers folder, the Connections
  (``AIRFLOW_CONN_*``, with the local Confluence's password), the Fernet key, the api-server's secret key and JWT
  secret (generated once, kept across restarts so stored Connections stay readable) and the API's Airflow login.
  Shell syntax: ``set -a; . .run/ui/airflow.env; set +a`` exports it;
  ``make airflow ARGS="..."`` runs ``airflow ARGS`` with it.

The Airflow services of ``make ui`` run with exactly that environment, so a CLI command sees what they see.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tenant_rag import constants as c
from tenant_rag.connections import conn_env_var
from tenant_rag.errors import TenantRagError
from tenant_rag.paths import project_root, run_dir

USER = "admin"
ENV_FILE = "airflow.env"
# generated once per .run/ui and kept: the Fernet key decrypts the Connections stored in the metadata database
GENERATED: dict[str, Callable[[], str]] = {
    "AIRFLOW__CORE__FERNET_KEY": lambda: base64.urlsafe_b64encode(os.urandom(32)).decode(),
    "AIRFLOW__API__SECRET_KEY": lambda: secrets.token_urlsafe(32),
    "AIRFLOW__API_AUTH__JWT_SECRET": lambda: secrets.token_urlsafe(32),
}


class UiNotConfiguredError(TenantRagError):
    """``.run/ui/airflow.env`` is missing: ``make ui`` has not written the instance's configuration yet."""


@dataclass(frozen=True)
class UiConfig:
    ui_dir: Path
    airflow_home: Path
    config_file: Path
    env_file: Path
    base_url: str
    env: dict[str, str]  # what the env file holds (not os.environ)


def ui_dir() -> Path:
    return run_dir() / "ui"


def sqlalchemy_url(libpq_url: str) -> str:
    """``postgresql+psycopg://`` for Airflow from the embedded server's socket URL (no password: trust socket)."""
    from urllib.parse import parse_qs, urlparse

    parsed = urlparse(libpq_url)
    host = parse_qs(parsed.query)["host"][0]
    return f"postgresql+psycopg://{parsed.username or 'postgres'}@/{parsed.path.lstrip('/')}?host={host}"


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY='value'`` lines as written by ``write_config`` (shell-quoted)."""
    env: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, _, raw = line.partition("=")
        words = shlex.split(raw)
        env[key.strip()] = words[0] if words else ""
    return env


def ui_env(directory: Path | None = None) -> dict[str, str]:
    """The environment for ``airflow`` commands against the ``make ui`` instance (``os.environ`` + the env file)."""
    path = (directory or ui_dir()) / ENV_FILE
    if not path.is_file():
        raise UiNotConfiguredError(f"{path} does not exist: start the Airflow UI once with 'make ui'")
    return {**os.environ, **read_env_file(path)}


def _cfg_value(value: str) -> str:
    return value.replace("%", "%%")  # Airflow's config parser interpolates '%'


def _config_text(settings: dict[str, dict[str, str]]) -> str:
    lines = [
        "# Written by 'make ui' (tenant_rag_devtools.airflow_ui_config) at every start; edits are overwritten.",
        "# No secrets here: the Connections, the Fernet key and the API secrets are in ../airflow.env (0600).",
        '# Run airflow commands against this instance with: make airflow ARGS="dags list"',
        "# or: set -a; . .run/ui/airflow.env; set +a; airflow dags list",
    ]
    for section, options in settings.items():
        lines += ["", f"[{section}]", *(f"{key} = {_cfg_value(value)}" for key, value in options.items())]
    return "\n".join(lines) + "\n"


def _write_private(path: Path, text: str) -> None:
    """Create or replace ``path`` with mode 0600 from its first byte (never briefly world-readable)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def write_config(
    directory: Path,
    *,
    metadata_url: str,
    database_url: str,
    confluence_url: str,
    confluence_user: tuple[str, str],
    customers_dir: Path,
    password: str,
    port: int = 8080,
) -> UiConfig:
    """Write ``airflow/airflow.cfg`` and the 0600 ``airflow.env`` of the UI instance in ``directory``."""
    from tenant_rag.dsn import airflow_conn_json
    from tenant_rag_airflow.dag_bundle import bundle_config

    root = project_root()
    home = directory / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{port}"
    passwords_file = directory / "ui_password.json"
    settings = {
        "core": {
            "dags_folder": str(root / "dags"),
            "plugins_folder": str(root / "plugins"),
            "executor": "LocalExecutor",
            "parallelism": "4",
            "load_examples": "False",
            "execution_api_server_url": f"{base}/execution/",
            "simple_auth_manager_users": f"{USER}:admin",
            "simple_auth_manager_passwords_file": str(passwords_file),
        },
        "database": {"sql_alchemy_conn": sqlalchemy_url(metadata_url)},
        # the project's DAG bundle over the same folder: it adds shard files as customers grow
        "dag_processor": {"dag_bundle_config_list": bundle_config(root / "dags")},
        "logging": {"base_log_folder": str(directory / "logs")},
        "api": {"base_url": base, "host": "127.0.0.1", "port": str(port)},
    }
    config_file = home / "airflow.cfg"
    config_file.write_text(_config_text(settings), encoding="utf-8")
    stray = home / "airflow.db"  # SQLite left by an airflow command run before this file existed
    if stray.is_file() and stray.read_bytes()[:16] == b"SQLite format 3\x00":
        stray.unlink()

    env_file = directory / ENV_FILE
    previous = read_env_file(env_file) if env_file.is_file() else {}
    env = {
        "AIRFLOW_HOME": str(home),
        "PYTHONPATH": os.pathsep.join(str(root / part) for part in ("include", "plugins", ".")),
        c.HOME_ENV: str(root),
        c.CUSTOMERS_DIR_ENV: str(customers_dir),
        c.DATABASE_URL_ENV: database_url,
        conn_env_var(c.DB_CONN_ID): airflow_conn_json(database_url),
        "AIRFLOW_CONN_CONFLUENCE_DEMO": json.dumps(
            {
                "conn_type": "confluence",
                "host": confluence_url,
                "login": confluence_user[0],
                "password": confluence_user[1],
            }
        ),
        f"{c.API_ENV_PREFIX}AIRFLOW_BASE_URL": base,
        f"{c.API_ENV_PREFIX}AIRFLOW_USERNAME": USER,
        f"{c.API_ENV_PREFIX}AIRFLOW_PASSWORD": password,
        **{key: previous.get(key) or make() for key, make in GENERATED.items()},
    }
    header = "# Written by 'make ui' at every start: the UI instance's secrets and environment. Keep it 0600.\n"
    _write_private(env_file, header + "".join(f"{key}={shlex.quote(value)}\n" for key, value in env.items()))
    return UiConfig(directory, home, config_file, env_file, base, env)
