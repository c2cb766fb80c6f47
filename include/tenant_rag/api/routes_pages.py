"""Status pages for browsers: ``/v1/customers/{id}/status/page`` and the admin overview ``/v1/admin/status/page``.

Browsers cannot send headers from the address bar, so a page also accepts its key once as ``?key=<key>``: the
server stores it in an HttpOnly, SameSite=Strict cookie scoped to ``/v1/`` and redirects (303) to the same page
without the key, so the key does not stay in the address bar or history. ``Referrer-Policy: no-referrer`` keeps it
out of Referer headers. The pages contain no script (CSP forbids it); plots are inline SVG.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tenant_rag.api.auth import PAGE_COOKIE, CustomerIdPath, PageKey, ServicesDep, authorize_customer, check_admin_key
from tenant_rag.api.errors import ErrorBody
from tenant_rag.api.keys import MAX_KEY_LENGTH
from tenant_rag.api.pages import admin_page, customer_page
from tenant_rag.api.services import Services
from tenant_rag.api.status_view import build_status, latency_series, pages_series, summary

router = APIRouter(prefix="/v1", tags=["status pages"])

PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'none'; form-action 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}
KeyParam = Annotated[
    str | None,
    Query(max_length=MAX_KEY_LENGTH, pattern=r"^[A-Za-z0-9_-]+$", description="API key, moved into a cookie by a 303"),
]


def _store_key(request: Request, services: Services, key: str) -> Response:
    """303 to the same page without ``key``, setting the page cookie."""
    remaining = [(k, v) for k, v in request.query_params.multi_items() if k != "key"]
    last_segment = request.url.path.rstrip("/").rsplit("/", 1)[-1]
    query = urlencode(remaining)
    response = RedirectResponse(last_segment + (f"?{query}" if query else ""), status_code=303)
    root = request.scope.get("root_path", "").rstrip("/")
    response.set_cookie(
        PAGE_COOKIE,
        key,
        httponly=True,
        samesite="strict",
        secure=services.settings.cookie_secure,
        path=f"{root}/v1/",
        max_age=8 * 3600,
    )
    response.headers.update({k: v for k, v in PAGE_HEADERS.items() if k != "Content-Security-Policy"})
    return response


PAGE_ERRORS: dict[int | str, dict[str, object]] = {
    303: {"description": "key moved from the query string into a cookie"},
    401: {"model": ErrorBody, "description": "no key (header, cookie or ?key=)"},
    404: {"model": ErrorBody, "description": "unknown customer, or one this key may not see (same answer)"},
}


@router.get(
    "/customers/{customer_id}/status/page",
    response_class=HTMLResponse,
    summary="HTML status page of one customer (key: header, cookie, or ?key= once)",
    responses=PAGE_ERRORS,
)
def customer_status_page(
    customer_id: CustomerIdPath, request: Request, services: ServicesDep, page_key: PageKey, key: KeyParam = None
) -> Response:
    if key:
        return _store_key(request, services, key)
    access = authorize_customer(services, customer_id, page_key)
    status = build_status(services, access.entry)
    latency = latency_series(services, access.entry)
    pages = pages_series(services.directory.state(access.entry))
    html = customer_page(status, latency, pages, json_url="../status")
    return HTMLResponse(html, headers=PAGE_HEADERS)


@router.get(
    "/admin/status/page",
    response_class=HTMLResponse,
    summary="HTML overview of every customer (admin key: header, cookie, or ?key= once)",
    responses={**PAGE_ERRORS, 403: {"model": ErrorBody, "description": "not the admin key"}},
)
def admin_status_page(request: Request, services: ServicesDep, page_key: PageKey, key: KeyParam = None) -> Response:
    if key:
        return _store_key(request, services, key)
    check_admin_key(services, page_key)
    entries = [services.directory.get(cid) for cid in services.directory.ids()]
    customers = [summary(services, e) for e in entries if e is not None]
    links = {c.customer_id: f"../customers/{c.customer_id}/status/page" for c in customers}
    return HTMLResponse(admin_page(customers, page_url_of=links), headers=PAGE_HEADERS)
