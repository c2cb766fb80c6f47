"""The placeholder DAG of a customer whose config.yaml is invalid.

It has the customer's usual DAG id (when the folder name can be one), no schedule, and one task, ``config_error``,
that fails with the validation message (file and field), which its description and docs show too; it is created
paused or not as the broken file still says (``declared_paused``). The message is also emitted as a
``CustomerConfigWarning`` (the DAG processor records parse warnings).
"""

from __future__ import annotations

import hashlib
import logging
import re
import warnings
from datetime import UTC, datetime
from pathlib import Path

import yaml
from airflow.sdk import DAG

from tenant_rag.config import CustomerConfig
from tenant_rag.errors import ConfigError
from tenant_rag.naming import dag_id_for
from tenant_rag_airflow.constants import DAG_ID_PREFIX, DAG_TAG, TASK_CONFIG_ERROR
from tenant_rag_airflow.operators import ConfigErrorOperator

log = logging.getLogger(__name__)

CONFIG_ERROR_TAG = "config-error"
_DAG_ID_SAFE = re.compile(r"^[A-Za-z0-9_.-]+$")


class CustomerConfigWarning(UserWarning):
    """A customer's config.yaml is invalid; its DAG is a placeholder that fails with the message."""


def error_dag_id(folder: str) -> str:
    """The folder's usual DAG id when it can be one, else a sanitised id with a hash of the raw name."""
    if _DAG_ID_SAFE.match(folder) and len(folder) <= 200:
        return dag_id_for(folder)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", folder)[:60]
    return f"{DAG_ID_PREFIX}invalid__{safe}_{hashlib.sha256(folder.encode()).hexdigest()[:8]}"


_PAUSED_LINE = re.compile(r"^paused[ \t]*:(?P<value>[^#\n]*)", re.MULTILINE)


def declared_paused(path: Path) -> bool:
    """The ``paused`` a broken config.yaml still states, for its placeholder's state upon creation.

    ``is_paused_upon_creation`` applies only when Airflow first creates a DAG id, and after a fix the real DAG takes
    over the placeholder's row (same id). So the placeholder is created in the state the customer asked for: the
    file's ``paused`` when it is a boolean (read from the YAML, or from its top-level ``paused:`` line when the
    YAML itself is broken), the config's default (unpaused) when the file does not set it, and paused when it sets
    something else (the safe side). Unpaused, a placeholder never runs by itself: it has no schedule.
    """
    default = bool(CustomerConfig.model_fields["paused"].default)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return default
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError:
        lines = _PAUSED_LINE.findall(text)  # the last one wins, as in YAML
        if not lines:
            return default
        try:
            value = yaml.safe_load(lines[-1])
        except yaml.YAMLError:
            return True
    else:
        if not isinstance(raw, dict) or "paused" not in raw:
            return default
        value = raw["paused"]
    return value if isinstance(value, bool) else True


def build_config_error_dag(folder: str, path: Path, error: BaseException) -> DAG:
    message = str(error) if isinstance(error, ConfigError) else f"customer {folder!r} in {path}: {error}"
    first_line = message.splitlines()[0]
    with DAG(
        dag_id=error_dag_id(folder),
        description=f"INVALID CONFIG: {message.replace(chr(10), ' ')}"[:1000],
        doc_md=f"### Invalid configuration for `{folder}`\n\n```\n{message}\n```\n\n"
        f"Fix `{path}`; this DAG is rebuilt on the next parse. Its previous index (if any) is untouched.\n\n"
        "(A placeholder DAG rather than an import error: import errors are per file, and one file builds every "
        "customer's DAG, so raising would hide all of them.)",
        schedule=None,
        start_date=datetime(2026, 1, 1, tzinfo=UTC),
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=declared_paused(path),
        tags=[folder[:100], DAG_TAG, CONFIG_ERROR_TAG],
        default_args={"owner": "tenant-rag", "retries": 0},
    ) as dag:
        ConfigErrorOperator(task_id=TASK_CONFIG_ERROR, message=message, config_path=str(path))
    log.warning("tenantrag: %s", first_line)
    warnings.warn(CustomerConfigWarning(message), stacklevel=2)
    return dag
