"""Which pages a query may answer from: ``rag.permissions`` (off | enforce) and the asking user's identity.

``off`` (the default): every page of the customer's index may answer; an identity, if given, is not used.
``enforce``: a query must carry the end user's identity (``tenant_rag.permissions.Identity``) and only pages that
user may read are candidates, filtered in the database (``tenant_rag.store.visibility``). A live generation built
before store format 3 records no readers: enforcement then refuses (fail closed) until the next run has built one
that does.
"""

from __future__ import annotations

from dataclasses import dataclass

from tenant_rag.config import CustomerConfig
from tenant_rag.errors import PermanentError
from tenant_rag.permissions import Identity
from tenant_rag.store.names import PERMISSIONS_STORE_FORMAT
from tenant_rag.store.visibility import permission_settings


class PermissionsRefusedError(PermanentError):
    """A query the customer's ``rag.permissions: enforce`` cannot answer; the message names the customer."""


class IdentityRequiredError(PermissionsRefusedError):
    """Enforcement is on and the query names no end user."""


class PermissionsNotBuiltError(PermissionsRefusedError):
    """Enforcement is on and the live generation records no readers (built before store format 3)."""


@dataclass(frozen=True)
class QueryPermissions:
    """How one query reads the store: ``enforced`` or not, and the settings the query path makes
    (``visibility.SET_PERMISSIONS_SQL``)."""

    enforced: bool
    settings: dict[str, str]


def check_identity(config: CustomerConfig, identity: Identity | None) -> None:
    """Refuse a query without an identity when the customer enforces permissions (before any work)."""
    if config.rag.permissions == "enforce" and identity is None:
        raise IdentityRequiredError(
            f"customer {config.customer_id!r} enforces page permissions (rag.permissions: enforce): the query must "
            "name the end user (account id and groups)"
        )
    if identity is not None and not isinstance(identity, Identity):
        raise TypeError(f"customer {config.customer_id!r}: identity must be a tenant_rag.permissions.Identity")


def query_permissions(config: CustomerConfig, store_format: int, identity: Identity | None) -> QueryPermissions:
    """The permissions of a query against a live generation of ``store_format``."""
    check_identity(config, identity)
    if config.rag.permissions != "enforce":
        return QueryPermissions(False, permission_settings(None))
    assert identity is not None
    if store_format < PERMISSIONS_STORE_FORMAT:
        raise PermissionsNotBuiltError(
            f"customer {config.customer_id!r} enforces page permissions, but its live index (store format "
            f"{store_format}) records no readers yet; the next run builds one that does (store format "
            f"{PERMISSIONS_STORE_FORMAT}), queries are refused until then"
        )
    return QueryPermissions(True, permission_settings(identity.principals()))
