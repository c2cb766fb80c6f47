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


# The files that start real Airflow services, started first. ``make test`` runs three workers with ``--dist loadfile
# --no-loadscope-reorder``: xdist hands out files in collection order, two to each worker before the first ends, so
# these four start at once (the 1st and 4th on one worker) and the many short files fill in around them. (Its default
# reorder by test count would start these one-test files last and leave the longest running alone at the end.)
STACK_TEST_TIMEOUT_S = 1200
STACK_FILES = (
    "tests/integration/airflow/test_scheduler.py",
    "tests/integration/airflow/test_ui_instance.py",
    "tests/integration/scaleout/test_celery_dag.py",
    "tests/integration/airflow/test_scheduler_healing.py",
)


def _start_rank(item: pytest.Item) -> int:
    path = item.nodeid.split("::", 1)[0]
    if path in STACK_FILES:
        return STACK_FILES.index(path)
    if item.get_closest_marker("scheduler") or item.get_closest_marker("celery"):
        return len(STACK_FILES)  # a new Airflow-stack file: early, after the known ones
    return len(STACK_FILES) + 1


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that start real Airflow processes first (``STACK_FILES`` order), the rest in their usual order: on two
    workers (``make test``) the long ones then overlap the many short ones instead of running alone at the end."""
    items.sort(key=_start_rank)  # stable: each file's tests stay in their order
    for item in items:
        if _start_rank(item) <= len(STACK_FILES) and item.get_closest_marker("timeout") is None:
            # a whole Airflow stack (start-up waits up to 300 s each): the suite's 600 s per test is too tight on a
            # loaded machine (an api-server once took 121 s to answer); a hang still ends the test
            item.add_marker(pytest.mark.timeout(STACK_TEST_TIMEOUT_S))
