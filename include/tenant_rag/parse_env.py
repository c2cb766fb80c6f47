"""What DAG-file parsing reads of the environment, without pydantic: the customers folder and the shard counts.

Every shard DAG file runs ``tenant_rag_airflow.dag_shards.shard_builds`` on every parse, also the files that build
nothing, and a DAG processor re-parses every file every ``min_file_process_interval``. Measured on the development
machine (CPU time, ``time.process_time``): parsing an empty shard file in a process that has ``airflow.sdk``
loaded costs 3.5-3.9 ms (import ``dag_shards``, one directory listing, a hash); importing ``pydantic_settings``
there on top costs 41-43 ms (Airflow has loaded pydantic already; in a bare interpreter it is 0.30 s, see
``python -X importtime -c "import pydantic_settings"``): ten times the parse, ~1.3 s of CPU per loop over the 32
shipped files. The dag-processor forks its parsers from the manager (Airflow 3.3 ``WatchedSubprocess.start``:
``os.fork()`` without exec on Linux), so a module the manager imported would be inherited, but the manager imports
this project's code only when the ``CustomerShardsDagBundle`` is configured. So this module reads exactly the
variables ``shard_builds`` needs (``TENANT_RAG_CUSTOMERS_DIR`` with its ``TENANT_RAG_DATA_DIR`` /
``TENANT_RAG_HOME`` fallbacks, ``TENANT_RAG_DAG_SHARDS``, ``TENANT_RAG_DAG_SHARD_SIZE``) under the names of
``tenant_rag.constants``, with the functions ``tenant_rag.settings.Settings`` validates and resolves the same fields
with, raising the same ``SettingsError``.
"""

from __future__ import annotations

import os
from pathlib import Path

from tenant_rag.constants import (
    CUSTOMERS_DIR_ENV,
    DAG_SHARD_SIZE_ENV,
    DAG_SHARDS_ENV,
    DATA_DIR_ENV,
    DEFAULT_SHARD_SIZE,
    HOME_ENV,
)
from tenant_rag.errors import SettingsError

#: the checkout root, the default of ``TENANT_RAG_HOME``
PACKAGE_ROOT = Path(__file__).resolve().parents[2]
WHOLE_NUMBER_FORM = "a whole number >= 1"


def whole_number(value: object) -> int:
    """A whole number >= 1 from an environment string (or an int); ``ValueError`` naming the expected form."""
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or int(text) < 1:
        raise ValueError(f"expected {WHOLE_NUMBER_FORM}")
    return int(text)


def project_root_of(home: Path | None) -> Path:
    return home or PACKAGE_ROOT


def data_dir_of(data_dir: Path | None, home: Path | None) -> Path:
    return data_dir or project_root_of(home) / "data"


def customers_dir_of(customers_dir: Path | None, data_dir: Path | None, home: Path | None) -> Path:
    return customers_dir or data_dir_of(data_dir, home) / "customers"


def _raw(name: str) -> str | None:
    return os.environ.get(name) or None  # empty means unset, as in Settings (env_ignore_empty)


def _path(name: str) -> Path | None:
    raw = _raw(name)
    return Path(raw) if raw else None


def _number(name: str) -> int | None:
    raw = _raw(name)
    if raw is None:
        return None
    try:
        return whole_number(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: expected {WHOLE_NUMBER_FORM}") from None


def customers_dir() -> Path:
    """``Settings.resolved_customers_dir()`` without pydantic."""
    return customers_dir_of(_path(CUSTOMERS_DIR_ENV), _path(DATA_DIR_ENV), _path(HOME_ENV))


def dag_shards() -> int | None:
    """``Settings.dag_shards``: the pinned shard count, None when unset."""
    return _number(DAG_SHARDS_ENV)


def dag_shard_size() -> int:
    """``Settings.dag_shard_size``."""
    return _number(DAG_SHARD_SIZE_ENV) or DEFAULT_SHARD_SIZE
