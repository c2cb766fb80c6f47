"""What every stage operator shares: the customer's folder and config, the run's params and staging folder, the
vector-store hook, and the error boundary that decides between a retry and a permanent failure.

Constructor arguments are keyword-only and stored unchanged; nothing is read or connected before ``execute``.
Each stage pushes a small stats dict under the XCom key ``stats`` (the final task merges them into state.json);
a failing stage first pushes ``error`` (Airflow clears a task's XComs when it is retried, so a stale error never
outlives a successful retry), then raises: ``AirflowFailException`` when no retry can help, the original
exception otherwise so ``retries`` with exponential backoff apply.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowRescheduleException, AirflowSkipException

from tenant_rag.config import CONFIG_FILE, CustomerConfig, load_customer_config
from tenant_rag.errors import PermanentError
from tenant_rag.paths import customer_folder
from tenant_rag.runs.lease import keep_alive
from tenant_rag.runs.options import RunOptions
from tenant_rag.runs.progress import ProgressReporter
from tenant_rag.settings import settings
from tenant_rag_airflow.constants import ERROR_XCOM_KEY, STATS_XCOM_KEY
from tenant_rag_airflow.params import run_options

if TYPE_CHECKING:
    from airflow.sdk import Context

    from tenant_rag_airflow.hooks.tenant_db import TenantRagDbHook

MAX_LIST_ITEMS = 20
MAX_TEXT = 2000


def progress_interval() -> float:
    """Seconds between two progress lines of a stage (``TENANT_RAG_PROGRESS_SECONDS``, default 30)."""
    return settings().progress_seconds


def is_permanent(exc: BaseException) -> bool:
    """Whether no retry can fix ``exc``: Airflow's own fail exception or the library's ``PermanentError``."""
    return isinstance(exc, AirflowFailException | PermanentError)


def compact(value: Any, depth: int = 0) -> Any:
    """A JSON-safe, bounded copy of a stats value: long lists and strings are cut, with a count of what was cut."""
    if isinstance(value, Mapping):
        return {str(k): compact(v, depth + 1) for k, v in value.items() if depth < 4}
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        kept = [compact(v, depth + 1) for v in items[:MAX_LIST_ITEMS]]
        return kept + ([f"... {len(items) - MAX_LIST_ITEMS} more"] if len(items) > MAX_LIST_ITEMS else [])
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "..."
    if value is None or isinstance(value, bool | int | float):
        return value
    return json.loads(json.dumps(value, default=str))


def _stats_of(result: Any) -> dict[str, Any]:
    if result is None:
        return {}
    if isinstance(result, Mapping):
        return dict(result)
    for attr in ("to_dict", "as_dict", "model_dump"):
        method = getattr(result, attr, None)
        if callable(method):
            return dict(method())
    return {"result": str(result)}


class TenantRagStageOperator(BaseOperator):
    """Base of the stage operators (not used on its own)."""

    template_fields: Sequence[str] = ("customer_id", "customers_dir", "staging_dir")
    ui_color = "#e3f2fd"
    stage: ClassVar[str] = "stage"

    def __init__(
        self,
        *,
        customer_id: str,
        customers_dir: str | None = None,
        staging_dir: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.customer_id = customer_id
        self.customers_dir = customers_dir
        self.staging_dir = staging_dir

    # -- resolved on first use, inside execute ------------------------------------------------------------------
    @cached_property
    def customer_dir(self) -> Path:
        """The customer's folder; a bad customer id raises ``InvalidCustomerIdError`` (permanent) first."""
        return customer_folder(self.customer_id, self.customers_dir)

    @cached_property
    def config(self) -> CustomerConfig:
        return load_customer_config(self.customer_dir / CONFIG_FILE)

    @cached_property
    def db_hook(self) -> TenantRagDbHook:
        from tenant_rag_airflow.hooks.tenant_db import TenantRagDbHook

        return TenantRagDbHook(tenant_rag_conn_id=self.config.rag.db_conn_id)

    @property
    def staging_base(self) -> Path | None:
        """``<staging_dir>/<customer_id>`` when the operator names a folder, else the library's default
        (``$TENANT_RAG_STAGING_DIR/<customer_id>``, or ``<customer>/cache/staging``)."""
        return Path(self.staging_dir) / self.customer_id if self.staging_dir else None

    def database_url(self) -> str:
        return self.db_hook.get_database_url()

    def run_options(self, context: Context, available: list[str] | None = None) -> RunOptions:
        """The run's validated params (``available``: the spaces of a directory source)."""
        return run_options(context["params"], self.config, available)

    def progress_reporter(self, *, unit: str = "pages", total: int = 0, write_state: bool = True) -> ProgressReporter:
        """Progress lines every ``progress_interval()`` and (unless ``write_state`` is off) StageProgress in
        state.json."""
        return ProgressReporter(
            stage=self.stage,
            unit=unit,
            log=self.log,
            customer_dir=self.customer_dir if write_state else None,
            customer_id=self.customer_id,
            interval=progress_interval(),
            total=total,
        )

    def staging(self, context: Context) -> Any:
        from tenant_rag.pipeline.staging import staging_for

        return staging_for(self.customer_dir, context["run_id"], base=self.staging_base)

    def upstream_stats(self, context: Context, task_id: str) -> dict[str, Any]:
        value = context["ti"].xcom_pull(task_ids=task_id, key=STATS_XCOM_KEY)
        if not isinstance(value, Mapping):
            raise RuntimeError(f"customer {self.customer_id!r}: no stats from task {task_id!r} in this run")
        return dict(value)

    # -- the error boundary ---------------------------------------------------------------------------------------
    def execute(self, context: Context) -> Any:
        started = time.monotonic()
        self.log.info("customer %s: %s starting", self.customer_id, self.stage)
        try:
            with keep_alive(self.customer_dir, context["run_id"]):  # a no-op while the run holds no lease
                stats, result = self.run_stage(context)
        except (AirflowRescheduleException, AirflowSkipException):
            raise
        except Exception as exc:
            permanent = is_permanent(exc)
            self._push_error(context, exc, permanent)
            if permanent and not isinstance(exc, AirflowFailException):
                raise AirflowFailException(f"customer {self.customer_id!r}, {self.stage}: {exc}") from exc
            raise
        stats = compact({**_stats_of(stats), "duration_s": round(time.monotonic() - started, 3)})
        context["ti"].xcom_push(key=STATS_XCOM_KEY, value=stats)
        self.log.info("customer %s: %s done: %s", self.customer_id, self.stage, json.dumps(stats, default=str))
        return result

    def run_stage(self, context: Context) -> tuple[Any, Any]:
        """Do the work; return (stats, XCom return value)."""
        raise NotImplementedError

    def _push_error(self, context: Context, exc: BaseException, permanent: bool) -> None:
        error = {
            "task_id": self.task_id,
            "map_index": context["ti"].map_index,
            "stage": self.stage,
            "type": type(exc).__name__,
            "message": str(exc)[:MAX_TEXT],
            "permanent": permanent,
            "try_number": context["ti"].try_number,
            "at": datetime.now(UTC).isoformat(),
        }
        try:
            context["ti"].xcom_push(key=ERROR_XCOM_KEY, value=error)
        except Exception:
            self.log.warning("could not push the error to XCom", exc_info=True)
