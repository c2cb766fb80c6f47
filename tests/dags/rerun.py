"""Re-run a finished DAG run in place: what clearing it in the UI (or ``airflow tasks clear``) and letting the
scheduler pick it up does.

``dag.test()`` cannot do this: for a logical date it already ran, it deletes the old run (XComs included) and
creates a new one. Here the run's task instances are cleared with Airflow's own ``clear_task_instances`` and then
run in this process by the loop ``dag.test()`` itself uses: ``DagRun.update_state`` expands mapped tasks (marking
instances a smaller expansion no longer has ``removed``) and schedules, ``_run_task`` runs one task instance
through the Task SDK's in-process supervisor.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sqlalchemy import select

if TYPE_CHECKING:
    from airflow.sdk import DAG

#: Liveness bound while nothing is runnable (a rescheduled or retried task waiting for its time).
STUCK_AFTER_SECONDS = 120.0


def rerun_in_place(dag: DAG, run_id: str) -> str:
    """Clear every task instance of ``run_id`` and run the run again to its end; return its final state."""
    from airflow import settings
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import clear_task_instances
    from airflow.sdk.definitions.dag import _run_task
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.utils.state import DagRunState, TaskInstanceState

    assert settings.Session is not None
    session = settings.Session()
    try:
        run = session.scalars(select(DagRun).where(DagRun.dag_id == dag.dag_id, DagRun.run_id == run_id)).one()
        clear_task_instances(list(run.get_task_instances(session=session)), session, DagRunState.RUNNING)
        session.commit()
        run.dag = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
        idle_since: float | None = None
        while run.state == DagRunState.RUNNING:
            session.expire_all()
            schedulable, _ = run.update_state(session=session)
            for ti in schedulable:
                if ti.state != TaskInstanceState.UP_FOR_RESCHEDULE:
                    ti.try_number += 1
                ti.state = TaskInstanceState.SCHEDULED
            session.commit()
            scheduled = [
                ti for ti in run.get_task_instances(session=session) if ti.state == TaskInstanceState.SCHEDULED
            ]
            if not scheduled:
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > STUCK_AFTER_SECONDS:
                    raise AssertionError(f"run {run_id} has nothing to run and has not finished")
                time.sleep(0.5)
                continue
            idle_since = None
            for ti in scheduled:
                _run_task(ti=ti, task=dag.task_dict[ti.task_id])
        return str(getattr(run.state, "value", run.state))
    finally:
        session.close()
