"""Session-wide test environment: runtime files in a temp folder, never in the user's home or the checkout."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_RUN = Path(tempfile.mkdtemp(prefix="tenantrag-test-"))
os.environ["TENANT_RAG_RUN_DIR"] = str(_RUN)
# Defaults for what the caller did not set. pytest-xdist workers inherit the controller's environment, so a value
# this file set in the controller is set again here (recorded in _DEFAULTED): every worker process gets its own
# Airflow home and metadata database; two workers sharing one would see each other's runs and Asset events.
_DEFAULTED = "_TENANT_RAG_TEST_DEFAULTED"
_OURS = set(filter(None, os.environ.get(_DEFAULTED, "").split(",")))


def _default(name: str, value: str) -> None:
    if name not in os.environ or name in _OURS:
        os.environ[name] = value
        _OURS.add(name)


_default("AIRFLOW_HOME", str(_RUN / "airflow"))
_default("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
_default("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
_default("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{_RUN / 'airflow' / 'airflow.db'}")
_default("XDG_RUNTIME_DIR", str(_RUN))
os.environ[_DEFAULTED] = ",".join(sorted(_OURS))

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TENANT_RAG_SHARED_DIR", ROOT.parent / "shared"))


@pytest.fixture
def customers_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty customers folder, also exported as ``TENANT_RAG_CUSTOMERS_DIR``."""
    path = tmp_path / "customers"
    path.mkdir()
    monkeypatch.setenv("TENANT_RAG_CUSTOMERS_DIR", str(path))
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared``; tests that need it are skipped with a reason when it is absent."""
    if not (SHARED / "data").is_dir():
        pytest.skip(f"../shared is not present at {SHARED}: this test needs its recorded data")
    return SHARED


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the session's runtime folder (Airflow home, logs) unless TENANT_RAG_KEEP_TEST_RUN is set."""
    if not os.environ.get("TENANT_RAG_KEEP_TEST_RUN"):
        import shutil

        shutil.rmtree(_RUN, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that start real Airflow processes first, the rest in their usual order: on two workers
    (``make test``) the long ones then overlap the many short ones instead of running alone at the end."""
    heavy = [item for item in items if item.get_closest_marker("scheduler") or item.get_closest_marker("celery")]
    if heavy:
        first = set(map(id, heavy))
        items[:] = heavy + [item for item in items if id(item) not in first]
