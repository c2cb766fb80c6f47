"""Authentication dependencies.

Keys arrive in ``X-API-Key`` or ``Authorization: Bearer <key>``, never in a URL. Status pages also accept the
cookie set by their sign-in form (``page_login``); JSON routes never read cookies, so they cannot be driven by
cross-site requests.

The no-existence-leak rule: for a caller without the admin key, "this customer does not exist" and "your key is not
valid for this customer" are the same answer (404, same body), so a key for one customer learns nothing about
others. Only a request with no key at all gets 401; admin routes answer 403 to any key that is not the admin key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request, Security
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from tenant_rag.api.directory import CustomerEntry
from tenant_rag.api.errors import customer_not_found, forbidden_admin, unauthenticated
from tenant_rag.api.keys import MAX_KEY_LENGTH
from tenant_rag.api.models import CUSTOMER_ID_PATTERN
from tenant_rag.api.services import Services

PAGE_COOKIE = "tenant_rag_key"

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="customer or admin API key")
_bearer = HTTPBearer(auto_error=False, description="the same key as a bearer token")
_page_cookie = APIKeyCookie(name=PAGE_COOKIE, auto_error=False, description="set by a status page's sign-in form")

CustomerIdPath = Annotated[
    str, Path(pattern=CUSTOMER_ID_PATTERN, max_length=64, description="the customer's id", examples=["acme"])
]


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def presented_key(
    x_api_key: Annotated[str | None, Security(_api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> str | None:
    """The key from ``X-API-Key`` or ``Authorization: Bearer`` (None when neither is sent)."""
    if x_api_key:
        return x_api_key
    if bearer is not None and bearer.credentials:
        return bearer.credentials
    return None


async def presented_page_key(
    key: Annotated[str | None, Depends(presented_key)],
    cookie: Annotated[str | None, Security(_page_cookie)],
) -> str | None:
    return key or cookie or None


def key_from_headers(request: Request) -> str | None:
    """``presented_key`` for code that holds a request instead of dependencies."""
    key = request.headers.get("x-api-key")
    if not key:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            key = credentials.strip()
    return key or None


@dataclass(frozen=True)
class CustomerAccess:
    entry: CustomerEntry
    is_admin: bool

    @property
    def customer_id(self) -> str:
        return self.entry.customer_id


def authorize_customer(services: Services, customer_id: str, key: str | None) -> CustomerAccess:
    if not key:
        raise unauthenticated()
    if len(key) > MAX_KEY_LENGTH:
        raise customer_not_found()
    if services.admin.verify(key):
        entry = services.directory.get(customer_id)
        if entry is None:
            raise customer_not_found()
        return CustomerAccess(entry, is_admin=True)
    # Verify the key before looking at the customer, so both "unknown" and "not yours" do the same work.
    valid = services.keys.verify(customer_id, key)
    entry = services.directory.get(customer_id) if valid else None
    if entry is None:
        raise customer_not_found()
    return CustomerAccess(entry, is_admin=False)


def check_admin_key(services: Services, key: str | None) -> None:
    if not key:
        raise unauthenticated()
    if len(key) > MAX_KEY_LENGTH or not services.admin.verify(key):
        raise forbidden_admin()


async def customer_access(
    customer_id: CustomerIdPath, key: Annotated[str | None, Depends(presented_key)], services: ServicesDep
) -> CustomerAccess:
    """The caller may act for ``customer_id`` (its own key, or the admin key)."""
    return authorize_customer(services, customer_id, key)


async def require_admin(key: Annotated[str | None, Depends(presented_key)], services: ServicesDep) -> None:
    check_admin_key(services, key)


Access = Annotated[CustomerAccess, Depends(customer_access)]
PageKey = Annotated[str | None, Depends(presented_page_key)]
AdminKey = Annotated[str | None, Depends(presented_key)]
