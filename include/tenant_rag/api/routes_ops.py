"""Operations: liveness, readiness (database reachable) and Prometheus metrics."""

from __future__ import annotations

import psycopg
from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from tenant_rag.api.auth import AdminKey, ServicesDep, check_admin_key
from tenant_rag.api.errors import ErrorBody
from tenant_rag.api.models import Health
from tenant_rag.errors import DatabaseNotConfiguredError, TenantRagError

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    summary="Readiness: the database answers",
    responses={503: {"model": Health, "description": "database unreachable"}},
)
def readyz(services: ServicesDep) -> Response:
    try:
        url = services.database_url()
        with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except (psycopg.Error, TenantRagError, OSError) as exc:
        # a configuration mistake says what to do; a connection failure only its type (no host names, no URL)
        detail = str(exc) if isinstance(exc, DatabaseNotConfiguredError) else type(exc).__name__
        return JSONResponse(Health(status="unavailable", detail=f"database: {detail}").model_dump(), status_code=503)
    if not services.directory.base_dir.is_dir():
        return JSONResponse(
            Health(status="unavailable", detail="customers folder missing").model_dump(), status_code=503
        )
    return JSONResponse(Health(status="ok").model_dump())


@router.get(
    "/metrics",
    summary="Prometheus metrics (admin key unless TENANT_RAG_API_METRICS_PUBLIC)",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, 401: {"model": ErrorBody}, 403: {"model": ErrorBody}},
)
def metrics(services: ServicesDep, key: AdminKey) -> Response:
    if not services.settings.metrics_public:
        check_admin_key(services, key)
    return Response(services.metrics.render(), media_type=services.metrics.content_type)
