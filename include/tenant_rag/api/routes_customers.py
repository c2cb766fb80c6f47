"""``/v1/customers``: query a customer's index, read its status, list customers (admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from psycopg_pool import PoolTimeout

from tenant_rag.api.auth import Access, ServicesDep, require_admin
from tenant_rag.api.errors import ApiError, ErrorBody
from tenant_rag.api.models import CustomerList, QueryDocument, QueryRequest, QueryResponse, StatusResponse
from tenant_rag.api.status_view import build_status, summary
from tenant_rag.config import CustomerConfig
from tenant_rag.errors import DatabaseNotConfiguredError, TenantRagError
from tenant_rag.permissions import Identity
from tenant_rag.query_permissions import IdentityRequiredError, PermissionsNotBuiltError

router = APIRouter(prefix="/v1", tags=["customers"])

CUSTOMER_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "no API key"},
    404: {"model": ErrorBody, "description": "unknown customer, or one this key may not see (same answer)"},
    422: {"model": ErrorBody, "description": "invalid input"},
}
ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "no API key"},
    403: {"model": ErrorBody, "description": "not the admin key"},
}


def usable_config(access: Access) -> CustomerConfig:
    if access.entry.config is None:
        raise ApiError(409, "config_invalid", "the customer's config.yaml is invalid; see GET .../status (admin)")
    return access.entry.config


def _document(doc: Any) -> QueryDocument:
    meta: dict[str, Any] = dict(getattr(doc, "metadata", {}) or {})
    heading = meta.get("heading_path") or []
    if isinstance(heading, str):
        heading = [part.strip() for part in heading.split(">") if part.strip()]
    score = meta.get("score")
    return QueryDocument(
        title=meta.get("title"),
        url=meta.get("url"),
        space_key=meta.get("space_key"),
        heading_path=[str(h) for h in heading],
        page_id=str(meta["page_id"]) if meta.get("page_id") is not None else None,
        score=float(score) if isinstance(score, int | float) else None,
        content=str(getattr(doc, "page_content", "")),
    )


@router.post(
    "/customers/{customer_id}/query",
    response_model=QueryResponse,
    summary="Answer a question from the customer's index",
    responses={
        **CUSTOMER_ERRORS,
        403: {"model": ErrorBody, "description": "the customer enforces permissions and the query names no user"},
        409: {"model": ErrorBody, "description": "index not built yet (or without permissions, under enforcement)"},
        503: {"model": ErrorBody, "description": "database unavailable"},
    },
)
def query(body: QueryRequest, access: Access, services: ServicesDep) -> QueryResponse:
    """Top-k parent documents (title, URL, space, heading path, score) with the retrieval latency.

    The query runs as the customer's own database role and is recorded in the customer's query history.
    """
    config = usable_config(access)
    limits = services.settings
    customer_id = access.customer_id
    if len(body.question) > limits.max_question_chars:
        raise ApiError(422, "invalid_request", f"question: at most {limits.max_question_chars} characters")
    top_k = body.top_k or config.rag.top_k
    if top_k > limits.max_top_k:
        raise ApiError(422, "invalid_request", f"top_k: at most {limits.max_top_k}")
    configured = config.space_keys
    if body.space_keys and configured is not None:
        unknown = sorted(set(body.space_keys) - set(configured))
        if unknown:
            raise ApiError(422, "invalid_request", f"space_keys: {unknown[:5]} are not indexed for this customer")
    mode = body.mode or config.rag.retrieval_mode
    try:
        identity = Identity(body.user.account_id, tuple(body.user.groups)) if body.user else None
        result = services.query_manager().query(
            config, body.question, top_k=top_k, mode=mode, space_keys=body.space_keys, identity=identity
        )
    except DatabaseNotConfiguredError:
        raise
    except IdentityRequiredError as exc:
        services.metrics.query_failed(customer_id, "identity_required")
        raise ApiError(403, "identity_required", str(exc)) from None
    except PermissionsNotBuiltError as exc:
        services.metrics.query_failed(customer_id, "permissions_not_built")
        raise ApiError(409, "permissions_not_built", str(exc)) from None
    except ValueError as exc:
        services.metrics.query_failed(customer_id, "invalid_request")
        raise ApiError(422, "invalid_request", str(exc)[:300]) from None
    except TenantRagError as exc:
        if isinstance(exc, LookupError):  # the core's IndexNotReadyError
            services.metrics.query_failed(customer_id, "index_not_ready")
            raise ApiError(409, "index_not_ready", "the customer's index has not been built yet") from exc
        services.metrics.query_failed(customer_id, "store_error")
        raise ApiError(503, "query_failed", "the index could not be queried; try again later") from exc
    except PoolTimeout as exc:
        services.metrics.query_failed(customer_id, "busy")
        raise ApiError(503, "busy", "no database connection became free in time; try again later") from exc
    latency = float(getattr(result, "latency", 0.0) or 0.0)
    used_mode = str(getattr(result, "mode", None) or mode)
    services.metrics.observe_query(customer_id, used_mode, latency)
    return QueryResponse(
        customer_id=customer_id,
        question=body.question,
        mode=used_mode,
        top_k=top_k,
        latency_ms=round(latency * 1000.0, 3),
        documents=[_document(doc) for doc in result.documents],
    )


@router.get(
    "/customers/{customer_id}/status",
    response_model=StatusResponse,
    summary="The customer's RAG status, last run and index size",
    responses=CUSTOMER_ERRORS,
)
def status(access: Access, services: ServicesDep) -> StatusResponse:
    return build_status(services, access.entry)


@router.get(
    "/customers",
    response_model=CustomerList,
    summary="Every customer with its status (admin)",
    dependencies=[Depends(require_admin)],
    responses=ADMIN_ERRORS,
)
def list_customers(services: ServicesDep) -> CustomerList:
    entries = [services.directory.get(cid) for cid in services.directory.ids()]
    return CustomerList(customers=[summary(services, e) for e in entries if e is not None])


AdminOnly = Annotated[None, Depends(require_admin)]
