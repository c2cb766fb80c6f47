"""Signing in to the status pages without ever putting a key in a URL.

A page requested by a browser without a valid key answers its sign-in form (``pages.login_page``); the form POSTs
the key in the body to the page's ``login`` route, which checks it, stores it in an HttpOnly ``SameSite=Lax``
cookie scoped to ``/v1/`` and redirects (303) to the page. A URL that carries a key (``?key=`` and the other names
of ``tenant_rag.logmask.SECRET_QUERY_NAMES``) never authenticates: it is answered 400.

The login POST is refused (403) when the browser says it comes from another site: ``Sec-Fetch-Site`` other than
``same-origin`` or, from browsers too old to send it, an ``Origin`` (``null`` included) or ``Referer`` whose host
is not this request's ``Host``. Clients that send none of these headers (curl, scripts) are not browsers and
cannot be driven cross-site, so they may sign in.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tenant_rag.api.auth import PAGE_COOKIE
from tenant_rag.api.errors import ApiError, error_response
from tenant_rag.api.pages import login_page
from tenant_rag.api.services import Services
from tenant_rag.logmask import is_secret_name

COOKIE_MAX_AGE = 8 * 3600

PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'none'; form-action 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}
LOGIN_HEADERS = {
    **PAGE_HEADERS,
    "Content-Security-Policy": PAGE_HEADERS["Content-Security-Policy"].replace(
        "form-action 'none'", "form-action 'self'"
    ),
}

KEY_IN_URL_MESSAGE = (
    "API keys are not accepted in URLs (they end up in server logs and browser history): sign in with the form "
    "on this page, or send the key in the X-API-Key header"
)


def key_in_url() -> ApiError:
    return ApiError(400, "key_in_url", KEY_IN_URL_MESSAGE)


def cross_site_login() -> ApiError:
    return ApiError(403, "cross_site_request", "sign in from the status page itself; cross-site sign-in is refused")


def refuse_key_in_url(request: Request) -> None:
    """400 when the query string carries a secret-looking parameter; such a request never authenticates."""
    if any(is_secret_name(name) for name, _ in request.query_params.multi_items()):
        raise key_in_url()


def _host_of(url: str) -> str | None:
    try:
        return urlsplit(url).netloc.lower() or None
    except ValueError:
        return None


def is_same_site_post(request: Request) -> bool:
    """Whether a login POST comes from this site (see the module docstring)."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:  # set by the browser itself, and it survives proxies that rewrite Host
        return fetch_site.lower() == "same-origin"
    own_host = request.headers.get("host", "").lower()
    origin = request.headers.get("origin")
    if origin is not None:
        return origin.lower() != "null" and _host_of(origin) == own_host
    referer = request.headers.get("referer")
    if referer is not None:
        return _host_of(referer) == own_host
    return True


def wants_html(request: Request) -> bool:
    """Browsers navigating ask for text/html; API clients (``*/*``, JSON) keep getting JSON errors."""
    return "text/html" in request.headers.get("accept", "").lower()


def sign_in_answer(request: Request, error: ApiError, *, audience: str) -> Response:
    """For a browser: the sign-in form with the error's status and message; for other clients: the JSON error."""
    if not wants_html(request):
        return error_response(error.status, error.code, error.message, headers=error.headers)
    message = None if error.status == 401 and error.code == "unauthenticated" else error.message
    return HTMLResponse(login_page(audience=audience, message=message), status_code=error.status, headers=LOGIN_HEADERS)


def signed_in(request: Request, services: Services, key: str) -> RedirectResponse:
    """303 from ``.../login`` to ``.../page`` of the same folder, setting the page cookie."""
    response = RedirectResponse("page", status_code=303)
    root = request.scope.get("root_path", "").rstrip("/")
    response.set_cookie(
        PAGE_COOKIE,
        key,
        httponly=True,
        samesite="lax",  # a link from a chat or wiki opens the page signed in; the pages only read
        secure=services.settings.cookie_secure,
        path=f"{root}/v1/",
        max_age=COOKIE_MAX_AGE,
    )
    response.headers.update({k: v for k, v in PAGE_HEADERS.items() if k != "Content-Security-Policy"})
    return response
