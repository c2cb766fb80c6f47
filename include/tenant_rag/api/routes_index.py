"""Index management: trigger a customer's DAG through Airflow's REST API, read a run, re-index many, drop one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from tenant_rag.api.airflow_client import AirflowError
from tenant_rag.api.auth import Access, ServicesDep, require_admin
from tenant_rag.api.errors import ApiError, ErrorBody
from tenant_rag.api.models import (
    RUN_ID_PATTERN,
    BulkIndexItem,
    BulkIndexRequest,
    BulkIndexResponse,
    DagRun,
    DeleteIndexResponse,
    IndexRequest,
    IndexRun,
)
from tenant_rag.api.routes_customers import ADMIN_ERRORS, CUSTOMER_ERRORS, usable_config
from tenant_rag.api.services import Services
from tenant_rag.api.status_view import run_stats
from tenant_rag.config import CustomerConfig
from tenant_rag.errors import DatabaseNotConfiguredError, TenantRagError
from tenant_rag.naming import dag_id_for

router = APIRouter(prefix="/v1", tags=["index"])

AIRFLOW_ERRORS: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "Airflow does not know the DAG, or refused the run"},
    502: {"model": ErrorBody, "description": "Airflow refused the service's credentials"},
    503: {"model": ErrorBody, "description": "Airflow unreachable"},
}


def _airflow_error(exc: AirflowError, dag_id: str, *, run_lookup: bool = False) -> ApiError:
    if exc.kind == "not_found":
        if run_lookup:
            return ApiError(404, "run_not_found", f"no run with this id for {dag_id}")
        return ApiError(409, "dag_not_found", f"Airflow has no DAG {dag_id!r} (yet): is the DAG parsed?")
    if exc.kind == "conflict":
        return ApiError(409, "run_conflict", str(exc))
    if exc.kind == "auth":
        return ApiError(502, "airflow_auth", f"Airflow refused the API service's credentials: {exc}")
    if exc.kind == "rejected":
        return ApiError(422, "rejected_by_airflow", str(exc))
    return ApiError(503, "airflow_unavailable", str(exc))


def _conf(body: IndexRequest | BulkIndexRequest, space_keys: list[str] | None) -> dict[str, Any]:
    conf: dict[str, Any] = {"full_refresh": body.full_refresh, "dry_run": body.dry_run}
    if space_keys:
        conf["space_keys"] = space_keys
    return conf


def _run(customer_id: str, info: DagRun, stats: dict[str, Any] | None = None) -> IndexRun:
    return IndexRun(customer_id=customer_id, stats=stats, **info.model_dump())


def _trigger(services: Services, config: CustomerConfig, conf: dict[str, Any]) -> DagRun:
    dag_id = dag_id_for(config.customer_id)
    try:
        info = services.airflow().trigger_dag_run(dag_id, conf, note="triggered through the tenant-rag API")
    except AirflowError as exc:
        services.metrics.index_triggered(config.customer_id, exc.kind)
        raise _airflow_error(exc, dag_id) from exc
    services.metrics.index_triggered(config.customer_id, "queued")
    return info


@router.post(
    "/customers/{customer_id}/index",
    response_model=IndexRun,
    status_code=202,
    summary="Trigger the customer's indexing DAG",
    responses={**CUSTOMER_ERRORS, **AIRFLOW_ERRORS},
)
def trigger_index(body: IndexRequest, access: Access, services: ServicesDep) -> IndexRun:
    """Queue a run of ``tenant_rag__<customer_id>`` with ``full_refresh`` / ``dry_run`` / ``space_keys``."""
    config = usable_config(access)
    if body.space_keys and config.space_keys is not None:
        unknown = sorted(set(body.space_keys) - set(config.space_keys))
        if unknown:
            raise ApiError(422, "invalid_request", f"space_keys: {unknown[:5]} are not configured for this customer")
    info = _trigger(services, config, _conf(body, body.space_keys))
    return _run(access.customer_id, info)


RunIdPath = Annotated[str, Path(pattern=RUN_ID_PATTERN, max_length=250, description="Airflow run id")]


@router.get(
    "/customers/{customer_id}/index/{run_id}",
    response_model=IndexRun,
    summary="State of one indexing run (and its stats once recorded)",
    responses={**CUSTOMER_ERRORS, **AIRFLOW_ERRORS},
)
def get_index_run(run_id: RunIdPath, access: Access, services: ServicesDep) -> IndexRun:
    dag_id = dag_id_for(access.customer_id)
    try:
        info = services.airflow().get_dag_run(dag_id, run_id)
    except AirflowError as exc:
        raise _airflow_error(exc, dag_id, run_lookup=True) from exc
    state = services.directory.state(access.entry)
    return _run(access.customer_id, info, run_stats(state, info.run_id))


@router.post(
    "/index",
    response_model=BulkIndexResponse,
    status_code=202,
    summary="Re-index several or all customers (admin)",
    dependencies=[Depends(require_admin)],
    responses={**ADMIN_ERRORS, 422: {"model": ErrorBody, "description": "invalid input"}},
)
def trigger_many(body: BulkIndexRequest, services: ServicesDep) -> BulkIndexResponse:
    """One run per customer (all customers when ``customer_ids`` is omitted); failures are reported per item."""
    ids = body.customer_ids if body.customer_ids is not None else services.directory.ids()
    results = []
    for customer_id in ids:
        entry = services.directory.get(customer_id)
        if entry is None:
            results.append(BulkIndexItem(customer_id=customer_id, error="customer not found"))
            continue
        if entry.config is None:
            results.append(BulkIndexItem(customer_id=customer_id, error="config.yaml is invalid"))
            continue
        try:
            info = _trigger(services, entry.config, _conf(body, None))
        except ApiError as exc:
            results.append(BulkIndexItem(customer_id=customer_id, error=f"{exc.code}: {exc.message}"))
            continue
        results.append(BulkIndexItem(customer_id=customer_id, run_id=info.run_id, state=info.state))
    failed = sum(1 for item in results if item.error)
    return BulkIndexResponse(triggered=len(results) - failed, failed=failed, results=results)


@router.delete(
    "/customers/{customer_id}/index",
    response_model=DeleteIndexResponse,
    summary="Drop the customer's index (admin; needs ?confirm=<customer_id>)",
    responses={
        **CUSTOMER_ERRORS,
        409: {"model": ErrorBody, "description": "the customer's config.yaml is invalid"},
        503: {"model": ErrorBody, "description": "the database refused the drop"},
        400: {"model": ErrorBody, "description": "confirmation missing"},
        403: {"model": ErrorBody, "description": "not the admin key"},
    },
)
def delete_index(
    access: Access,
    services: ServicesDep,
    confirm: Annotated[str | None, Query(max_length=64, description="repeat the customer id")] = None,
) -> DeleteIndexResponse:
    if not access.is_admin:
        raise ApiError(403, "forbidden", "dropping an index needs the admin key")
    if confirm != access.customer_id:
        raise ApiError(400, "confirmation_required", "repeat the customer id: ?confirm=<customer_id>")
    config = usable_config(access)
    try:
        services.rag_manager(access.entry).cleanup_index()
    except DatabaseNotConfiguredError:
        raise
    except TenantRagError as exc:
        raise ApiError(503, "cleanup_failed", f"could not drop the index of {config.customer_id!r}: {exc}") from exc
    services.forget_size(access.customer_id)
    state = services.directory.state(access.entry)
    return DeleteIndexResponse(customer_id=access.customer_id, deleted=True, status=str(state.status))
