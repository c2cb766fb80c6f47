"""Customer ids and the database names derived from them.

A customer id names a folder, a DAG and a Postgres schema, so it is held to the strictest of the three.
Collection names are deterministic and injective: two ids that sanitise to the same text (``acme-corp`` and
``acme_corp``) still get different names because a lossy sanitisation appends a hash of the raw id.
"""

from __future__ import annotations

import hashlib
import re

from tenant_rag.errors import InvalidCustomerIdError

MAX_CUSTOMER_ID_LENGTH = 64
PG_IDENTIFIER_MAX_BYTES = 63
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_RESERVED = {"con", "prn", "aux", "nul", "com1", "lpt1", "default", "public"}
_PREFIX, _SUFFIX = "customer_", "_documents"


def validate_customer_id(customer_id: object) -> str:
    """Return ``customer_id`` unchanged if it is usable, else raise ``InvalidCustomerIdError`` saying why."""
    if not isinstance(customer_id, str):
        raise InvalidCustomerIdError(f"customer id must be a string, got {type(customer_id).__name__}")
    if not customer_id:
        raise InvalidCustomerIdError("customer id must not be empty")
    if len(customer_id) > MAX_CUSTOMER_ID_LENGTH:
        raise InvalidCustomerIdError(
            f"customer id {customer_id[:20]!r}... is {len(customer_id)} characters; at most "
            f"{MAX_CUSTOMER_ID_LENGTH} are allowed"
        )
    if not customer_id.isprintable() or any(ch.isspace() for ch in customer_id):
        raise InvalidCustomerIdError(f"customer id {customer_id!r} contains whitespace or control characters")
    if "/" in customer_id or "\\" in customer_id or ".." in customer_id:
        raise InvalidCustomerIdError(f"customer id {customer_id!r} looks like a path; use letters and digits")
    if not _ID_RE.match(customer_id):
        raise InvalidCustomerIdError(
            f"customer id {customer_id!r} is not allowed: use ASCII letters, digits, '_', '-' or '.', "
            "starting with a letter or digit"
        )
    if customer_id.lower() in _RESERVED:
        raise InvalidCustomerIdError(f"customer id {customer_id!r} is a reserved name")
    return customer_id


def _short_hash(text: str, length: int = 8) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def generate_collection_name(customer_id: str) -> str:
    """``customer_<safe_id>_documents``: a valid, unique Postgres identifier of at most 63 bytes."""
    validate_customer_id(customer_id)
    safe = re.sub(r"[^a-z0-9_]", "_", customer_id.lower())
    lossy = safe != customer_id
    budget = PG_IDENTIFIER_MAX_BYTES - len(_PREFIX) - len(_SUFFIX)
    if lossy or len(safe) > budget:
        tag = _short_hash(customer_id)
        safe = f"{safe[: budget - len(tag) - 1]}_{tag}"
    return f"{_PREFIX}{safe}{_SUFFIX}"


def tenant_role_name(collection_name: str) -> str:
    """The database role that may read only this collection's schema."""
    base = collection_name.removesuffix(_SUFFIX)
    role = f"{base}_reader"
    if len(role) > PG_IDENTIFIER_MAX_BYTES:
        role = f"{base[: PG_IDENTIFIER_MAX_BYTES - 16]}_{_short_hash(collection_name)}_rd"
    return role


def dag_id_for(customer_id: str) -> str:
    return f"tenant_rag__{customer_id}"
