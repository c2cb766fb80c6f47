"""Status pages for browsers: ``/v1/customers/{id}/status/page`` and the admin overview ``/v1/admin/status/page``.

A page takes its key from ``X-API-Key`` / ``Authorization: Bearer`` or from the HttpOnly cookie set by its sign-in
form; a browser without a valid one gets the form, which POSTs the key to the sibling ``login`` route (see
``page_login``). Keys in the URL are refused with 400 and never authenticate. ``Referrer-Policy: no-referrer``;
the pages contain no script (CSP forbids it); plots are inline SVG.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from tenant_rag.api.auth import CustomerIdPath, PageKey, ServicesDep, authorize_customer, check_admin_key
from tenant_rag.api.errors import ApiError, ErrorBody
from tenant_rag.api.keys import MAX_KEY_LENGTH
from tenant_rag.api.page_login import (
    PAGE_HEADERS,
    cross_site_login,
    is_same_site_post,
    refuse_key_in_url,
    sign_in_answer,
    signed_in,
)
from tenant_rag.api.pages import admin_page, customer_page
from tenant_rag.api.status_view import build_status, latency_series, pages_series, summary

router = APIRouter(prefix="/v1", tags=["status pages"])

ADMIN_AUDIENCE = "all customers"
KeyForm = Annotated[str, Form(max_length=MAX_KEY_LENGTH, description="the API key (form body, never the URL)")]

PAGE_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorBody, "description": "a key in the URL (never accepted: use the form or X-API-Key)"},
    401: {"model": ErrorBody, "description": "no key (header or cookie); browsers get the sign-in form"},
    404: {"model": ErrorBody, "description": "unknown customer, or one this key may not see (same answer)"},
}
LOGIN_ERRORS: dict[int | str, dict[str, object]] = {
    303: {"description": "signed in: the key is now in an HttpOnly cookie; go to the page"},
    **PAGE_ERRORS,
    403: {"model": ErrorBody, "description": "a cross-site sign-in, or (admin) not the admin key"},
}


@router.get(
    "/customers/{customer_id}/status/page",
    response_class=HTMLResponse,
    summary="HTML status page of one customer (key: header or the sign-in cookie)",
    responses=PAGE_ERRORS,
)
def customer_status_page(
    customer_id: CustomerIdPath, request: Request, services: ServicesDep, page_key: PageKey
) -> Response:
    try:
        refuse_key_in_url(request)
        access = authorize_customer(services, customer_id, page_key)
    except ApiError as exc:
        return sign_in_answer(request, exc, audience=customer_id)
    status = build_status(services, access.entry)
    latency = latency_series(services, access.entry)
    pages = pages_series(services.directory.state(access.entry))
    html = customer_page(status, latency, pages, json_url="../status")
    return HTMLResponse(html, headers=PAGE_HEADERS)


@router.post(
    "/customers/{customer_id}/status/login",
    response_class=HTMLResponse,
    status_code=303,
    summary="Sign in to a customer's status page (the key in the form body; sets the page cookie)",
    responses=LOGIN_ERRORS,
)
def customer_status_login(
    customer_id: CustomerIdPath, request: Request, services: ServicesDep, key: KeyForm
) -> Response:
    try:
        refuse_key_in_url(request)
        if not is_same_site_post(request):
            raise cross_site_login()
        authorize_customer(services, customer_id, key)
    except ApiError as exc:
        return sign_in_answer(request, exc, audience=customer_id)
    return signed_in(request, services, key)


@router.get(
    "/admin/status/page",
    response_class=HTMLResponse,
    summary="HTML overview of every customer (admin key: header or the sign-in cookie)",
    responses={**PAGE_ERRORS, 403: {"model": ErrorBody, "description": "not the admin key"}},
)
def admin_status_page(request: Request, services: ServicesDep, page_key: PageKey) -> Response:
    try:
        refuse_key_in_url(request)
        check_admin_key(services, page_key)
    except ApiError as exc:
        return sign_in_answer(request, exc, audience=ADMIN_AUDIENCE)
    entries = [services.directory.get(cid) for cid in services.directory.ids()]
    customers = [summary(services, e) for e in entries if e is not None]
    links = {c.customer_id: f"../customers/{c.customer_id}/status/page" for c in customers}
    return HTMLResponse(admin_page(customers, page_url_of=links), headers=PAGE_HEADERS)


@router.post(
    "/admin/status/login",
    response_class=HTMLResponse,
    status_code=303,
    summary="Sign in to the admin overview page (the admin key in the form body; sets the page cookie)",
    responses=LOGIN_ERRORS,
)
def admin_status_login(request: Request, services: ServicesDep, key: KeyForm) -> Response:
    try:
        refuse_key_in_url(request)
        if not is_same_site_post(request):
            raise cross_site_login()
        check_admin_key(services, key)
    except ApiError as exc:
        return sign_in_answer(request, exc, audience=ADMIN_AUDIENCE)
    return signed_in(request, services, key)
