"""The Airflow side of the customer's run lease (the lease itself is ``tenant_rag.runs.lease``): what Airflow
knows about the run holding it, asked through the task's own ``ti`` (the Task Execution API).

- the holder's run is no longer queued or running, or Airflow does not know it (404: deleted): ``GONE``;
- it is queued, or one of its task instances waits to start (scheduled, queued, in a pool, in retry back-off,
  rescheduled, deferred): ``WAITING``;
- otherwise (a task claims to run): ``RUNNING``, and its heartbeat decides; ``UNKNOWN`` when Airflow cannot say.
"""

from __future__ import annotations

from typing import Any

from tenant_rag.runs.lease import HolderProbe, HolderState

#: Dag-run states in which a run may still write the customer's store.
ACTIVE_RUN_STATES = frozenset({"queued", "running"})
#: Task-instance states of a task that has not started yet but will.
WAITING_TASK_STATES = frozenset({"scheduled", "queued", "up_for_retry", "up_for_reschedule", "deferred", "restarting"})


def _state(value: Any) -> str:
    return str(getattr(value, "value", value))


def status_code(exc: BaseException) -> int | None:
    """The HTTP status behind an Execution API error: ``httpx`` errors carry a response, errors relayed by the
    task supervisor (``AirflowRuntimeError``) carry it in ``error.detail``."""
    code = getattr(getattr(exc, "response", None), "status_code", None)
    if code is None:
        detail = getattr(getattr(exc, "error", None), "detail", None)
        code = detail.get("status_code") if isinstance(detail, dict) else None
    return int(code) if isinstance(code, int) else None


def holder_probe(ti: Any) -> HolderProbe:
    """A probe of this DAG's runs for ``tenant_rag.runs.lease.acquire_lease``."""

    def probe(run_id: str) -> HolderState:
        try:
            run_state = _state(ti.get_dagrun_state(dag_id=ti.dag_id, run_id=run_id))
        except Exception as exc:
            return HolderState.GONE if status_code(exc) == 404 else HolderState.UNKNOWN
        if run_state not in ACTIVE_RUN_STATES:
            return HolderState.GONE
        if run_state == "queued":
            return HolderState.WAITING
        try:
            tasks = ti.get_task_states(dag_id=ti.dag_id, run_ids=[run_id]).get(run_id, {})
        except Exception:
            return HolderState.UNKNOWN
        if any(_state(state) in WAITING_TASK_STATES for state in tasks.values()):
            return HolderState.WAITING
        return HolderState.RUNNING

    return probe
